//! The files under deploy/ that packages install: the default configurations parse (their
//! typed checks live in the web and controller crates), the systemd units carry the
//! service rules (restart, user, state directory, hardening, the controller's audio group
//! and boot ordering), and `systemd-analyze verify` accepts them where it is installed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

/// `key=value` lines of a unit (all sections), in order.
fn unit(name: &str) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(deploy().join("systemd").join(name)).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('['))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{name}: bad line {l}"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

fn has(u: &[(String, String)], key: &str, value: &str) -> bool {
    u.iter().any(|(k, v)| k == key && v == value)
}

#[test]
fn both_units_restart_run_as_loaxa_keep_state_in_var_lib_and_are_hardened() {
    for name in ["loaxa-web.service", "loaxa-controller.service"] {
        let u = unit(name);
        for (k, v) in [
            ("Restart", "on-failure"),
            ("User", "loaxa"),
            ("StateDirectory", "loaxa"),
            ("ProtectSystem", "strict"),
            ("ProtectHome", "yes"),
            ("NoNewPrivileges", "yes"),
            ("PrivateTmp", "yes"),
            ("CapabilityBoundingSet", ""),
            ("SystemCallFilter", "@system-service"),
            ("WantedBy", "multi-user.target"),
        ] {
            assert!(has(&u, k, v), "{name} lacks {k}={v}");
        }
        assert!(
            u.iter().any(|(k, _)| k == "RestrictAddressFamilies"),
            "{name}"
        );
    }
}

#[test]
fn controller_unit_waits_for_sound_and_network_without_failing() {
    let u = unit("loaxa-controller.service");
    assert!(has(&u, "SupplementaryGroups", "audio"));
    assert!(has(&u, "After", "network-online.target sound.target"));
    assert!(has(&u, "Wants", "network-online.target sound.target"));
    let exec = &u.iter().find(|(k, _)| k == "ExecStart").unwrap().1;
    assert!(exec.contains("--wait-for-device"), "{exec}");
}

#[test]
fn default_configuration_files_are_toml_with_data_in_var_lib() {
    for (name, data) in [
        ("web.toml", "/var/lib/loaxa"),
        ("controller.toml", "/var/lib/loaxa/controller"),
    ] {
        let text = std::fs::read_to_string(deploy().join("config").join(name)).unwrap();
        let t: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(t["data"].as_str(), Some(data), "{name}");
    }
}

#[test]
fn systemd_analyze_verifies_the_units_when_installed() {
    let Ok(out) = Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("systemd-analyze is not installed: skipped the verification");
        return;
    };
    assert!(out.status.success());
    // The binaries are not installed here: verify the units with ExecStart pointing at a
    // binary that exists, everything else as shipped.
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for name in ["loaxa-web.service", "loaxa-controller.service"] {
        let text = std::fs::read_to_string(deploy().join("systemd").join(name)).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("ExecStart=") {
                    "ExecStart=/bin/true".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&paths)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "systemd-analyze verify: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
