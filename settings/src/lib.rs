//! Layered configuration for the Loa Xã binaries.
//!
//! A binary declares its settings once, as one struct that derives clap's `Args` and
//! serde's `Serialize`/`Deserialize` (with `#[serde(default, deny_unknown_fields)]`): each
//! field is a key of the TOML file (its serde name), a flag (clap's `long`, help from its
//! doc comment, default from its `default_value`), an environment variable (below) and a
//! line of `--print-config`; `Default` is [`clap_defaults`]. Adding a setting is adding a
//! field. This crate then builds the effective value from four layers, each overriding the
//! one before:
//!
//! 1. the defaults declared on the struct's flags;
//! 2. a TOML file (`--config FILE`): an unknown key or a bad value is an error naming the
//!    key and the file's line;
//! 3. the environment: every key `some_key` is read from `LOAXA_SOME_KEY` (a binary may
//!    rename a key's variable, as the controller does for `data`);
//! 4. the flags given on the command line ([`parse`] tells them from clap's defaults).
//!
//! The environment is read here rather than by clap so that a list is one TOML value
//! (`LOAXA_TRUSTED_PROXIES='["127.0.0.1"]'`) and a bad value names its variable; [`command`]
//! writes each flag's variable into its help and so into the man page.
//!
//! [`to_toml`] prints the effective configuration with secret keys shown as `"<hidden>"`.

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches};
use serde::de::{DeserializeOwned, Visitor};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a secret's value is printed as.
pub const HIDDEN: &str = "<hidden>";

/// The configuration could not be built.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read the configuration file {path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file is not valid TOML, has an unknown key or a bad value.
    #[error("{path} line {line}{key}: {message}", key = key.as_ref().map(|k| format!(", key `{k}`")).unwrap_or_default())]
    File {
        /// The file.
        path: PathBuf,
        /// 1-based line of the offending text.
        line: usize,
        /// The key on that line, when there is one.
        key: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// An environment variable holds a bad value.
    #[error("environment variable {var}: {message}")]
    Env {
        /// The variable.
        var: String,
        /// What is wrong.
        message: String,
    },
    /// A value given on the command line is refused.
    #[error("{0}")]
    Flags(String),
}

/// How a binary names its settings in the environment and which ones are secret.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    /// Keys whose variable is not `LOAXA_<KEY>`: `(key, variable)`.
    pub env_renames: &'static [(&'static str, &'static str)],
    /// Keys printed as [`HIDDEN`] when they are set.
    pub secrets: &'static [&'static str],
}

impl Spec {
    /// The environment variable that sets `key`.
    pub fn env_var(&self, key: &str) -> String {
        self.env_renames
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| (*v).to_string())
            .unwrap_or_else(|| format!("LOAXA_{}", key.to_ascii_uppercase()))
    }
}

/// The keys of settings struct `T` (its serde field names), in declaration order.
pub fn keys<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::value::Error;
    use serde::de::Error as _;
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Error> {
            *self.0 = fields;
            Err(Error::custom("probed"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// Build the effective settings: `T::default()` < `file` < environment (read through
/// `env`) < `flags` (a table of the values given on the command line).
pub fn load<T>(
    spec: &Spec,
    file: Option<&Path>,
    env: &dyn Fn(&str) -> Option<String>,
    flags: toml::Table,
) -> Result<T, ConfigError>
where
    T: Serialize + DeserializeOwned + Default,
{
    let defaults = toml::Table::try_from(T::default())
        .map_err(|e| ConfigError::Flags(format!("the defaults do not serialise: {e}")))?;
    let mut table = defaults.clone();

    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        // Typed first, so that unknown keys and bad values are reported with their line.
        toml::from_str::<T>(&text).map_err(|e| file_error(path, &text, &e))?;
        let parsed: toml::Table = toml::from_str(&text).map_err(|e| file_error(path, &text, &e))?;
        table.extend(parsed);
    }

    for key in keys::<T>() {
        let var = spec.env_var(key);
        let Some(raw) = env(&var) else { continue };
        let value = env_value(defaults.get(*key), &raw).map_err(|message| ConfigError::Env {
            var: var.clone(),
            message,
        })?;
        let mut one = table.clone();
        one.insert((*key).to_string(), value);
        // Check this variable alone so that the error names it.
        T::deserialize(one.clone()).map_err(|e| ConfigError::Env {
            var: var.clone(),
            message: e.message().to_string(),
        })?;
        table = one;
    }

    table.extend(flags);
    T::deserialize(table).map_err(|e| ConfigError::Flags(e.message().to_string()))
}

/// Read an environment value with the type of the key's default (strings stay strings, so a
/// path `123` is not taken for a number).
fn env_value(default: Option<&toml::Value>, raw: &str) -> Result<toml::Value, String> {
    use toml::Value;
    Ok(match default {
        Some(Value::Integer(_)) => Value::Integer(
            raw.trim()
                .parse()
                .map_err(|_| format!("`{raw}` is not a whole number"))?,
        ),
        Some(Value::Float(_)) => Value::Float(
            raw.trim()
                .parse()
                .map_err(|_| format!("`{raw}` is not a number"))?,
        ),
        Some(Value::Boolean(_)) => Value::Boolean(match raw.trim() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(format!("`{raw}` is not true or false")),
        }),
        Some(Value::Array(_)) | Some(Value::Table(_)) => {
            let doc: toml::Table = toml::from_str(&format!("v = {raw}"))
                .map_err(|e| format!("`{raw}` is not a TOML value: {}", e.message()))?;
            doc.get("v").cloned().unwrap_or(Value::String(raw.into()))
        }
        _ => Value::String(raw.to_string()),
    })
}

fn file_error(path: &Path, text: &str, e: &toml::de::Error) -> ConfigError {
    let start = e.span().map_or(0, |s| s.start).min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_string())
        .filter(|k| !k.is_empty() && !k.starts_with('#') && !k.starts_with('['));
    ConfigError::File {
        path: path.to_path_buf(),
        line,
        key,
        message: e.message().trim().to_string(),
    }
}

/// The effective settings as TOML, secrets shown as [`HIDDEN`] when set.
pub fn to_toml<T: Serialize>(spec: &Spec, value: &T) -> String {
    let mut table = match toml::Table::try_from(value) {
        Ok(t) => t,
        Err(e) => return format!("# cannot print the configuration: {e}\n"),
    };
    for key in spec.secrets {
        if let Some(v) = table.get_mut(*key) {
            let set = !matches!(v, toml::Value::String(s) if s.is_empty());
            if set {
                *v = toml::Value::String(HIDDEN.into());
            }
        }
    }
    toml::to_string(&table).unwrap_or_else(|e| format!("# cannot print the configuration: {e}\n"))
}

/// The defaults declared on the flags of settings struct `T` (clap's `default_value`s, with
/// no command line and no environment): what `T::default()` returns.
pub fn clap_defaults<T: clap::Args + FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("defaults").no_binary_name(true));
    let parsed = cmd
        .try_get_matches_from(std::iter::empty::<String>())
        .and_then(|m| T::from_arg_matches(&m));
    match parsed {
        Ok(t) => t,
        // Only a field without a default can fail here: a mistake in the declaration that
        // every test of a binary's settings shows at once.
        Err(e) => panic!("a setting has no default: {e}"),
    }
}

/// The command line `C`, with the environment variable of each setting of `T` written into
/// its flag's help (`--help` and the man page).
pub fn command<C: CommandFactory, T: DeserializeOwned>(spec: &Spec) -> clap::Command {
    let keys = keys::<T>();
    C::command().mut_args(|arg| {
        let id = arg.get_id().as_str();
        if !keys.contains(&id) {
            return arg;
        }
        let var = spec.env_var(id);
        let secret = spec.secrets.contains(&id);
        let note = if secret {
            format!("[env: {var}] (secret: prefer the file or the environment, a command line is visible to every user)")
        } else {
            format!("[env: {var}]")
        };
        let help = arg.get_help().map(|h| format!("{h} {note}"));
        let long = arg.get_long_help().map(|h| format!("{h}\n\n{note}"));
        let arg = match help {
            Some(h) => arg.help(h),
            None => arg.help(note),
        };
        match long {
            Some(l) => arg.long_help(l),
            None => arg,
        }
    })
}

/// Parse the command line `argv` into `C`, and return with it the settings of `T` (a part
/// of `C`, flattened) that were given on it, keyed as in the file: the flags layer of
/// [`load`]. A flag left out keeps its default in `C` and is absent from the table.
pub fn parse<C, T, I>(spec: &Spec, argv: I) -> Result<(C, toml::Table), clap::Error>
where
    C: CommandFactory + FromArgMatches,
    T: FromArgMatches + Serialize + DeserializeOwned,
    I: IntoIterator,
    I::Item: Into<std::ffi::OsString> + Clone,
{
    let mut cmd = command::<C, T>(spec);
    let matches = cmd.try_get_matches_from_mut(argv)?;
    let cli = C::from_arg_matches(&matches).map_err(|e| e.format(&mut cmd))?;
    let flags =
        given::<T>(&matches).map_err(|e| cmd.error(clap::error::ErrorKind::ValueValidation, e))?;
    Ok((cli, flags))
}

/// The settings of `T` that were given on the command line `matches`.
fn given<T>(matches: &ArgMatches) -> Result<toml::Table, String>
where
    T: FromArgMatches + Serialize + DeserializeOwned,
{
    let all = T::from_arg_matches(matches).map_err(|e| e.to_string())?;
    let table = toml::Table::try_from(&all).map_err(|e| e.to_string())?;
    let ids: Vec<&str> = matches.ids().map(|id| id.as_str()).collect();
    Ok(table
        .into_iter()
        .filter(|(key, _)| {
            ids.contains(&key.as_str())
                && matches.value_source(key) == Some(ValueSource::CommandLine)
        })
        .collect())
}

/// One line per setting of `T`: its key, environment variable and default, for a man page.
pub fn describe<T: Serialize + DeserializeOwned + Default>(spec: &Spec) -> String {
    let defaults = toml::Table::try_from(T::default()).unwrap_or_default();
    keys::<T>()
        .iter()
        .map(|key| {
            let default = match defaults.get(*key) {
                Some(toml::Value::String(s)) if s.is_empty() => "empty".to_string(),
                Some(v) => v.to_string(),
                None => "unset".to_string(),
            };
            format!("{key} ({}; default {default})", spec.env_var(key))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `path` if it is given, else `default` when that file exists (the packaged location,
/// e.g. `/etc/loaxa/web.toml`), else no file.
pub fn choose_file(path: Option<PathBuf>, default: &Path) -> Option<PathBuf> {
    path.or_else(|| default.is_file().then(|| default.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;
    use std::net::SocketAddr;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(default, deny_unknown_fields)]
    struct Demo {
        data: PathBuf,
        listen: SocketAddr,
        retention_days: u32,
        verbose: bool,
        token: String,
        station: Option<String>,
    }

    impl Default for Demo {
        fn default() -> Self {
            Self {
                data: "./data".into(),
                listen: "127.0.0.1:8080".parse().unwrap(),
                retention_days: 365,
                verbose: false,
                token: String::new(),
                station: None,
            }
        }
    }

    const SPEC: Spec = Spec {
        env_renames: &[("data", "LOAXA_DEMO_DATA")],
        secrets: &["token"],
    };

    fn write(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn keys_are_the_struct_fields_in_order() {
        assert_eq!(
            keys::<Demo>(),
            [
                "data",
                "listen",
                "retention_days",
                "verbose",
                "token",
                "station"
            ]
        );
    }

    #[test]
    fn flags_beat_environment_beat_file_beat_defaults() {
        let f = write("listen = \"0.0.0.0:80\"\nretention_days = 30\nverbose = true\n");
        let got: Demo = load(
            &SPEC,
            Some(f.path()),
            &env(&[
                ("LOAXA_RETENTION_DAYS", "60"),
                ("LOAXA_LISTEN", "0.0.0.0:81"),
            ]),
            toml::Table::from_iter([("listen".to_string(), "0.0.0.0:82".into())]),
        )
        .unwrap();
        assert_eq!(got.listen, "0.0.0.0:82".parse().unwrap(), "flag wins");
        assert_eq!(got.retention_days, 60, "environment beats the file");
        assert!(got.verbose, "file beats the default");
        assert_eq!(
            got.data,
            PathBuf::from("./data"),
            "default when nothing is set"
        );
    }

    #[test]
    fn renamed_and_optional_keys_read_their_variables() {
        let got: Demo = load(
            &SPEC,
            None,
            &env(&[
                ("LOAXA_DEMO_DATA", "123"),
                ("LOAXA_STATION", "LQ"),
                ("LOAXA_DATA", "x"),
            ]),
            toml::Table::new(),
        )
        .unwrap();
        assert_eq!(got.data, PathBuf::from("123"));
        assert_eq!(got.station.as_deref(), Some("LQ"));
    }

    #[test]
    fn unknown_key_is_named_with_its_line() {
        let f = write("# comment\nlisten = \"0.0.0.0:80\"\nlisen = \"x\"\n");
        let e = load::<Demo>(&SPEC, Some(f.path()), &env(&[]), toml::Table::new()).unwrap_err();
        let ConfigError::File {
            line, key, message, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!((*line, key.as_deref()), (3, Some("lisen")));
        assert!(message.contains("unknown field"), "{message}");
        assert!(e.to_string().contains("line 3, key `lisen`"), "{e}");
    }

    #[test]
    fn bad_value_is_named_with_its_line() {
        let f = write("verbose = true\n\nretention_days = \"a year\"\n");
        let e = load::<Demo>(&SPEC, Some(f.path()), &env(&[]), toml::Table::new()).unwrap_err();
        let ConfigError::File { line, key, .. } = &e else {
            panic!("{e:?}")
        };
        assert_eq!((*line, key.as_deref()), (3, Some("retention_days")));
        let f = write("listen = \"nowhere\"\n");
        let e = load::<Demo>(&SPEC, Some(f.path()), &env(&[]), toml::Table::new()).unwrap_err();
        assert!(e.to_string().contains("line 1, key `listen`"), "{e}");
        let f = write("listen = \n");
        let e = load::<Demo>(&SPEC, Some(f.path()), &env(&[]), toml::Table::new()).unwrap_err();
        assert!(matches!(e, ConfigError::File { line: 1, .. }), "{e:?}");
    }

    #[test]
    fn bad_environment_value_names_the_variable() {
        for (var, value) in [("LOAXA_RETENTION_DAYS", "soon"), ("LOAXA_LISTEN", "here")] {
            let e =
                load::<Demo>(&SPEC, None, &env(&[(var, value)]), toml::Table::new()).unwrap_err();
            assert!(
                matches!(&e, ConfigError::Env { var: v, .. } if v == var),
                "{e:?}"
            );
        }
    }

    #[test]
    fn printed_configuration_hides_secrets_and_reads_back() {
        let mut d = Demo::default();
        let shown = to_toml(&SPEC, &d);
        assert!(
            shown.contains("token = \"\""),
            "an unset secret shows as unset: {shown}"
        );
        d.token = "s3cret".into();
        let shown = to_toml(&SPEC, &d);
        assert!(
            !shown.contains("s3cret") && shown.contains("token = \"<hidden>\""),
            "{shown}"
        );
        let back: Demo = toml::from_str(&shown).unwrap();
        assert_eq!(back.listen, d.listen);
    }

    /// Settings declared once: flags, defaults and keys from one struct.
    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
    #[serde(default, deny_unknown_fields)]
    struct Declared {
        /// Where to listen.
        #[arg(long, global = true, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Days to keep.
        #[arg(long, global = true, default_value_t = 365)]
        retention_days: u32,
        /// Say more.
        #[arg(long, global = true)]
        verbose: bool,
        /// Proxies.
        #[arg(long = "proxy", global = true)]
        proxies: Vec<String>,
        /// Secret.
        #[arg(long, default_value = "", hide_default_value = true)]
        token: String,
    }

    impl Default for Declared {
        fn default() -> Self {
            clap_defaults()
        }
    }

    #[derive(Debug, clap::Parser)]
    struct DeclaredCli {
        #[command(flatten)]
        settings: Declared,
        #[command(subcommand)]
        command: Option<Sub>,
    }

    #[derive(Debug, clap::Subcommand)]
    enum Sub {
        Serve,
    }

    #[test]
    fn defaults_come_from_the_flags_and_only_given_flags_override() {
        let d = Declared::default();
        assert_eq!(
            (d.listen, d.retention_days, d.verbose, d.proxies.len()),
            ("127.0.0.1:8080".parse().unwrap(), 365, false, 0)
        );
        let f = write("retention_days = 30\nverbose = true\nproxies = [\"10.0.0.1\"]\n");
        let argv = [
            "x",
            "serve",
            "--listen",
            "0.0.0.0:1",
            "--proxy",
            "a",
            "--proxy",
            "b",
        ];
        let (cli, flags) = parse::<DeclaredCli, Declared, _>(&SPEC, argv).unwrap();
        assert!(matches!(cli.command, Some(Sub::Serve)));
        assert_eq!(
            flags.keys().map(String::as_str).collect::<Vec<_>>(),
            ["listen", "proxies"],
            "a global flag after the subcommand counts; defaults are not flags"
        );
        let got: Declared = load(&SPEC, Some(f.path()), &env(&[]), flags).unwrap();
        assert_eq!(got.listen, "0.0.0.0:1".parse().unwrap());
        assert_eq!(
            got.retention_days, 30,
            "the file is not overridden by a default"
        );
        assert!(got.verbose);
        assert_eq!(got.proxies, ["a", "b"]);
        let (_, flags) = parse::<DeclaredCli, Declared, _>(&SPEC, ["x", "--verbose"]).unwrap();
        assert_eq!(flags.get("verbose"), Some(&toml::Value::Boolean(true)));
        assert!(
            parse::<DeclaredCli, Declared, _>(&SPEC, ["x", "--retention-days", "soon"]).is_err()
        );
    }

    #[test]
    fn help_names_each_setting_s_variable_and_warns_about_secret_flags() {
        let mut cmd = command::<DeclaredCli, Declared>(&SPEC);
        let help = cmd.render_long_help().to_string();
        for text in [
            "LOAXA_RETENTION_DAYS",
            "LOAXA_PROXIES",
            "LOAXA_TOKEN",
            "visible to every user",
        ] {
            assert!(help.contains(text), "{text}: {help}");
        }
        let described = describe::<Declared>(&SPEC);
        assert!(
            described.contains("retention_days (LOAXA_RETENTION_DAYS; default 365)")
                && described.contains("token (LOAXA_TOKEN; default empty)"),
            "{described}"
        );
    }

    #[test]
    fn default_file_is_used_only_when_it_exists() {
        let f = write("");
        assert_eq!(choose_file(None, f.path()), Some(f.path().to_path_buf()));
        assert_eq!(
            choose_file(None, Path::new("/nonexistent/loaxa.toml")),
            None
        );
        assert_eq!(
            choose_file(Some("a.toml".into()), f.path()),
            Some(PathBuf::from("a.toml"))
        );
    }
}
