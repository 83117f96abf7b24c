//! Export files: the name of a pair's PNG and the writer that never replaces a file.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use image::RgbImage;

use crate::tui::action::ExplainRequest;
use crate::tui::sanitize;

/// `simtui-QUERY-vs-NEIGHBOUR-METHOD`, from sanitised file stems.
pub fn export_stem(r: &ExplainRequest) -> String {
    format!(
        "simtui-{}-vs-{}-{}{}",
        sanitize::file_stem(&r.query),
        sanitize::file_stem(&r.neighbour),
        r.key.2.name(),
        if r.signed { "-signed" } else { "" }
    )
}

/// Writes `img` as `DIR/STEM.png`, or `STEM-2.png`, `STEM-3.png`… : never over an existing
/// file (the name is claimed with create-new, so two exports cannot race for it). The PNG is
/// encoded in memory first and written in one call, so a process that ends meanwhile (the
/// terminal hung up) leaves no half-written file behind.
pub fn write_new_png(img: &RgbImage, dir: &Path, stem: &str) -> Result<PathBuf> {
    use std::io::Write;
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create export folder {}", dir.display()))?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .with_context(|| format!("cannot encode {stem}.png"))?;
    for n in 1.. {
        let name = if n == 1 {
            format!("{stem}.png")
        } else {
            format!("{stem}-{n}.png")
        };
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(mut file) => {
                if let Err(e) = file.write_all(&png) {
                    let _ = std::fs::remove_file(&path);
                    return Err(
                        anyhow::Error::from(e).context(format!("cannot write {}", path.display()))
                    );
                }
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(
                    anyhow::Error::from(e).context(format!("cannot write {}", path.display()))
                )
            }
        }
    }
    unreachable!("the loop returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::Method;

    #[test]
    fn exports_never_overwrite() {
        let dir = std::env::temp_dir().join(format!("simtui-export-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let img = RgbImage::from_pixel(4, 4, image::Rgb([1, 2, 3]));
        let r = ExplainRequest {
            signed: false,
            key: (0, 1, Method::Gradient),
            query: "x/a b.jpg".into(),
            neighbour: "y/c\x1b[2J.png".into(),
        };
        let stem = export_stem(&r);
        assert_eq!(stem, "simtui-a_b-vs-c__2J-gradient");
        let p1 = write_new_png(&img, &dir, &stem).unwrap();
        let p2 = write_new_png(&img, &dir, &stem).unwrap();
        assert_eq!(p1.file_name().unwrap(), "simtui-a_b-vs-c__2J-gradient.png");
        assert_eq!(
            p2.file_name().unwrap(),
            "simtui-a_b-vs-c__2J-gradient-2.png"
        );
        assert_eq!(image::open(&p2).unwrap().to_rgb8(), img);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
