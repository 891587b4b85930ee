//! Write the man page of `loaxa-controller` into a directory:
//! `cargo run -p controller --example manpage -- DIR`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .unwrap_or_else(|| "target/man".into());
    std::fs::create_dir_all(&dir)?;
    for (name, text) in controller::manpage::pages()? {
        let path = std::path::Path::new(&dir).join(&name);
        std::fs::write(&path, text)?;
        println!("{}", path.display());
    }
    Ok(())
}
