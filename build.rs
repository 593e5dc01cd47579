//! The WGSL shaders as the crate embeds them: `shaders/**/*.wgsl` copied to `$OUT_DIR/shaders/` without
//! their comments, indentation and blank lines (the .wasm carries 32 KB of WGSL instead of 58 KB, 7 KB
//! gzipped instead of 15; the device compiles the same code). `src/gpu/ops/*.rs` include these copies;
//! the files in `shaders/` stay the source to read and edit.
use std::fs;
use std::path::Path;

/// `src` without `//` and (nested) `/* */` comments, each line trimmed, empty lines dropped.
fn strip(src: &str) -> String {
    let (mut code, mut depth) = (String::with_capacity(src.len()), 0usize);
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('*')) => {
                chars.next();
                depth += 1;
            }
            ('*', Some('/')) if depth > 0 => {
                chars.next();
                depth -= 1;
            }
            ('/', Some('/')) if depth == 0 => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        code.push('\n');
                        break;
                    }
                }
            }
            // A block comment keeps its line breaks, so that `//` after it still ends at its own line.
            ('\n', _) if depth > 0 => code.push('\n'),
            _ if depth > 0 => {}
            _ => code.push(c),
        }
    }
    code.lines().map(str::trim).filter(|l| !l.is_empty()).map(|l| format!("{l}\n")).collect()
}

fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("create the shaders folder in OUT_DIR");
    let mut entries: Vec<_> = fs::read_dir(from).expect("read shaders/").map(|e| e.expect("shaders/ entry").path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().expect("file name");
        if path.is_dir() {
            copy(&path, &to.join(name));
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            let src = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            fs::write(to.join(name), strip(&src)).expect("write a shader to OUT_DIR");
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed=shaders");
    println!("cargo:rerun-if-changed=build.rs");
    let out = std::env::var("OUT_DIR").expect("OUT_DIR");
    copy(Path::new("shaders"), &Path::new(&out).join("shaders"));
}
