//! Write the man pages of `loaxa-web` into a directory: `cargo run -p web --example manpage -- DIR`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .unwrap_or_else(|| "target/man".into());
    std::fs::create_dir_all(&dir)?;
    for (name, text) in web::manpage::pages()? {
        std::fs::write(std::path::Path::new(&dir).join(&name), text)?;
        println!("{}", std::path::Path::new(&dir).join(&name).display());
    }
    Ok(())
}
