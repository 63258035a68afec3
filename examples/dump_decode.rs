fn main() {
    for f in std::env::args().skip(1) {
        let img = image::open(&f).unwrap().to_rgb8();
        let name = std::path::Path::new(&f).file_name().unwrap().to_str().unwrap().to_string();
        std::fs::write(format!("/tmp/dec/{name}.rgb"), img.as_raw()).unwrap();
    }
}
