// Rebuild (and so re-embed the web UI) whenever the built UI changes.
fn main() {
    println!("cargo:rerun-if-changed=../../web/dist");
    println!("cargo:rerun-if-changed=build.rs");
}
