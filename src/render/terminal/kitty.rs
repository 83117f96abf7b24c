//! The kitty graphics protocol: an image placed at the cursor to the pixel (`X`, `Y` offsets
//! in its first cell, its own pixel size: never stretched), or transmitted for Unicode
//! placeholders (`U=1`), the text cells that show it wherever tmux puts them.

use std::io::Write;

use anyhow::Result;
use image::RgbImage;

use super::{sized, Placement};

/// Base64 characters per kitty graphics chunk (the protocol's maximum).
pub const CHUNK: usize = 4096;

/// Deletes every image placement of ours and frees the data (`d=A`); `q=2`: no reply.
pub const DELETE_ALL: &[u8] = b"\x1b_Ga=d,d=A,q=2\x1b\\";

/// The query for kitty graphics support (a 1×1 image, query action, id 31): a kitty
/// graphics terminal answers `ESC _Gi=31;OK ESC \`, others ignore it.
pub const QUERY: &[u8] = b"\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\";

/// `img` as kitty graphics commands that show it at the cursor as `at` says: the pixels sent
/// inline (`t=d`, zlib-compressed RGB), so it works over ssh too and needs no temporary file;
/// exactly the pixels shown, no `c`/`r`, so kitty draws them 1:1; `q=2`, so the terminal
/// sends no replies into the keyboard input; `C=1`, so the cursor stays put.
pub fn encode(img: &RgbImage, at: &Placement) -> Result<Vec<u8>> {
    let head = format!(
        "a=T,f=24,o=z,t=d,q=2,C=1,s={},v={},X={},Y={}",
        at.pixels.0, at.pixels.1, at.offset.0, at.offset.1
    );
    chunked(&sized(img, at.pixels), &head)
}

/// `img` transmitted as image `id` with a virtual placement of `at.cells` (`U=1`), for the
/// placeholder cells [`placeholder`] draws; kitty fits it into them, aspect kept.
pub fn transmit_for_placeholders(img: &RgbImage, at: &Placement, id: u32) -> Result<Vec<u8>> {
    let head = format!(
        "a=T,U=1,i={id},f=24,o=z,t=d,q=2,s={},v={},c={},r={}",
        at.pixels.0, at.pixels.1, at.cells.width, at.cells.height
    );
    chunked(&sized(img, at.pixels), &head)
}

/// The commands that send `img` with the control keys `head`, in chunks.
fn chunked(img: &RgbImage, head: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(img.as_raw())?;
    let b64 = base64::engine::general_purpose::STANDARD.encode(z.finish()?);
    let mut out = Vec::with_capacity(b64.len() + 64 * (b64.len() / CHUNK + 1));
    let n = b64.len().div_ceil(CHUNK).max(1);
    for i in 0..n {
        let chunk = &b64.as_bytes()[(i * CHUNK).min(b64.len())..((i + 1) * CHUNK).min(b64.len())];
        let more = u8::from(i + 1 < n);
        if i == 0 {
            write!(out, "\x1b_G{head},m={more};")?;
        } else {
            write!(out, "\x1b_Gq=2,m={more};")?;
        }
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\x1b\\");
    }
    Ok(out)
}

/// The character whose cells show a placeholder image.
pub const PLACEHOLDER: char = '\u{10EEEE}';

/// The combining marks that number a placeholder's row and column (and the image id's high
/// byte): kitty's `rowcolumn-diacritics.txt`, index `i` meaning `i`.
pub const DIACRITICS: [u32; 297] = [
    0x0305, 0x030D, 0x030E, 0x0310, 0x0312, 0x033D, 0x033E, 0x033F, 0x0346, 0x034A, 0x034B, 0x034C,
    0x0350, 0x0351, 0x0352, 0x0357, 0x035B, 0x0363, 0x0364, 0x0365, 0x0366, 0x0367, 0x0368, 0x0369,
    0x036A, 0x036B, 0x036C, 0x036D, 0x036E, 0x036F, 0x0483, 0x0484, 0x0485, 0x0486, 0x0487, 0x0592,
    0x0593, 0x0594, 0x0595, 0x0597, 0x0598, 0x0599, 0x059C, 0x059D, 0x059E, 0x059F, 0x05A0, 0x05A1,
    0x05A8, 0x05A9, 0x05AB, 0x05AC, 0x05AF, 0x05C4, 0x0610, 0x0611, 0x0612, 0x0613, 0x0614, 0x0615,
    0x0616, 0x0617, 0x0657, 0x0658, 0x0659, 0x065A, 0x065B, 0x065D, 0x065E, 0x06D6, 0x06D7, 0x06D8,
    0x06D9, 0x06DA, 0x06DB, 0x06DC, 0x06DF, 0x06E0, 0x06E1, 0x06E2, 0x06E4, 0x06E7, 0x06E8, 0x06EB,
    0x06EC, 0x0730, 0x0732, 0x0733, 0x0735, 0x0736, 0x073A, 0x073D, 0x073F, 0x0740, 0x0741, 0x0743,
    0x0745, 0x0747, 0x0749, 0x074A, 0x07EB, 0x07EC, 0x07ED, 0x07EE, 0x07EF, 0x07F0, 0x07F1, 0x07F3,
    0x0816, 0x0817, 0x0818, 0x0819, 0x081B, 0x081C, 0x081D, 0x081E, 0x081F, 0x0820, 0x0821, 0x0822,
    0x0823, 0x0825, 0x0826, 0x0827, 0x0829, 0x082A, 0x082B, 0x082C, 0x082D, 0x0951, 0x0953, 0x0954,
    0x0F82, 0x0F83, 0x0F86, 0x0F87, 0x135D, 0x135E, 0x135F, 0x17DD, 0x193A, 0x1A17, 0x1A75, 0x1A76,
    0x1A77, 0x1A78, 0x1A79, 0x1A7A, 0x1A7B, 0x1A7C, 0x1B6B, 0x1B6D, 0x1B6E, 0x1B6F, 0x1B70, 0x1B71,
    0x1B72, 0x1B73, 0x1CD0, 0x1CD1, 0x1CD2, 0x1CDA, 0x1CDB, 0x1CE0, 0x1DC0, 0x1DC1, 0x1DC3, 0x1DC4,
    0x1DC5, 0x1DC6, 0x1DC7, 0x1DC8, 0x1DC9, 0x1DCB, 0x1DCC, 0x1DD1, 0x1DD2, 0x1DD3, 0x1DD4, 0x1DD5,
    0x1DD6, 0x1DD7, 0x1DD8, 0x1DD9, 0x1DDA, 0x1DDB, 0x1DDC, 0x1DDD, 0x1DDE, 0x1DDF, 0x1DE0, 0x1DE1,
    0x1DE2, 0x1DE3, 0x1DE4, 0x1DE5, 0x1DE6, 0x1DFE, 0x20D0, 0x20D1, 0x20D4, 0x20D5, 0x20D6, 0x20D7,
    0x20DB, 0x20DC, 0x20E1, 0x20E7, 0x20E9, 0x20F0, 0x2CEF, 0x2CF0, 0x2CF1, 0x2DE0, 0x2DE1, 0x2DE2,
    0x2DE3, 0x2DE4, 0x2DE5, 0x2DE6, 0x2DE7, 0x2DE8, 0x2DE9, 0x2DEA, 0x2DEB, 0x2DEC, 0x2DED, 0x2DEE,
    0x2DEF, 0x2DF0, 0x2DF1, 0x2DF2, 0x2DF3, 0x2DF4, 0x2DF5, 0x2DF6, 0x2DF7, 0x2DF8, 0x2DF9, 0x2DFA,
    0x2DFB, 0x2DFC, 0x2DFD, 0x2DFE, 0x2DFF, 0xA66F, 0xA67C, 0xA67D, 0xA6F0, 0xA6F1, 0xA8E0, 0xA8E1,
    0xA8E2, 0xA8E3, 0xA8E4, 0xA8E5, 0xA8E6, 0xA8E7, 0xA8E8, 0xA8E9, 0xA8EA, 0xA8EB, 0xA8EC, 0xA8ED,
    0xA8EE, 0xA8EF, 0xA8F0, 0xA8F1, 0xAAB0, 0xAAB2, 0xAAB3, 0xAAB7, 0xAAB8, 0xAABE, 0xAABF, 0xAAC1,
    0xFE20, 0xFE21, 0xFE22, 0xFE23, 0xFE24, 0xFE25, 0xFE26, 0x10A0F, 0x10A38, 0x1D185, 0x1D186,
    0x1D187, 0x1D188, 0x1D189, 0x1D1AA, 0x1D1AB, 0x1D1AC, 0x1D1AD, 0x1D242, 0x1D243, 0x1D244,
];

fn diacritic(i: usize) -> char {
    char::from_u32(DIACRITICS[i.min(DIACRITICS.len() - 1)]).expect("a combining mark")
}

/// The image id for the photo at `address` (its allocation, as the painter keys it): the low
/// byte goes in the cells' 256-colour foreground (never 0, which would mean no colour), the
/// high byte in a third diacritic. An 8-bit colour, unlike 24-bit, survives tmux on any outer
/// terminal.
pub fn placeholder_id(address: usize) -> u32 {
    let h = ((address >> 4) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    let low = 1 + (h % 255) as u32;
    let high = ((h >> 8) & 0xFF) as u32;
    (high << 24) | low
}

/// The foreground colour index that carries `id`'s low byte.
pub fn placeholder_colour(id: u32) -> u8 {
    (id & 0xFF) as u8
}

/// The text of the placeholder cell at `row`, `col` of image `id`: U+10EEEE, then the row's,
/// the column's and the id's high byte's diacritics. Rows and columns beyond the table's 297
/// are not addressable (no panel is that large).
pub fn placeholder(row: u16, col: u16, id: u32) -> String {
    [
        PLACEHOLDER,
        diacritic(row as usize),
        diacritic(col as usize),
        diacritic((id >> 24) as usize),
    ]
    .iter()
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::resize_rgb;
    use ratatui::layout::Rect;

    /// Splits kitty graphics commands into (control data, payload).
    pub(crate) fn kitty_commands(data: &[u8]) -> Vec<(String, String)> {
        let text = std::str::from_utf8(data).unwrap();
        assert!(text.starts_with("\x1b_G") && text.ends_with("\x1b\\"));
        text.split("\x1b\\")
            .filter(|c| !c.is_empty())
            .map(|c| {
                let body = c
                    .strip_prefix("\x1b_G")
                    .expect("each command opens with ESC _G");
                let (keys, payload) = body.split_once(';').unwrap();
                (keys.to_string(), payload.to_string())
            })
            .collect()
    }

    fn has(keys: &str, key: &str) -> bool {
        keys.split(',').any(|k| k == key)
    }

    #[test]
    fn kitty_images_go_inline_in_chunks_at_their_shown_size_and_ask_for_no_reply() {
        use base64::Engine as _;
        use std::io::Read as _;
        // Noise, so the compressed image needs several chunks.
        let mut seed = 7u32;
        let img = RgbImage::from_fn(900, 600, |_, _| {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            image::Rgb([(seed >> 24) as u8, (seed >> 16) as u8, (seed >> 8) as u8])
        });
        // 50×20 cells of 8×16 pixels: 400×266, centred 27 px down = row 1 + 11 px.
        let at = super::super::place(900, 600, Rect::new(3, 4, 50, 20), (8.0, 16.0), true, None);
        assert_eq!((at.pixels, at.offset, at.cells.y), ((400, 266), (0, 11), 5));
        let cmds = kitty_commands(&encode(&img, &at).unwrap());
        assert!(cmds.len() > 2, "{} commands", cmds.len());
        let first = &cmds[0].0;
        for key in [
            "a=T", "f=24", "o=z", "t=d", "q=2", "C=1", "s=400", "v=266", "X=0", "Y=11", "m=1",
        ] {
            assert!(has(first, key), "{key} in {first}");
        }
        // Not stretched over whole cells: kitty shows the pixels as they are.
        assert!(!first.contains("c=") && !first.contains("r="), "{first}");
        for (i, (keys, payload)) in cmds.iter().enumerate() {
            let last = i + 1 == cmds.len();
            assert!(keys.contains("q=2"), "chunk {i} asks for no reply: {keys}");
            assert!(keys.ends_with(if last { "m=0" } else { "m=1" }), "{keys}");
            assert!(payload.len() <= CHUNK && (last || payload.len() % 4 == 0));
        }
        let b64: String = cmds.iter().map(|(_, p)| p.as_str()).collect();
        let z = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut rgb = Vec::new();
        flate2::read::ZlibDecoder::new(&z[..])
            .read_to_end(&mut rgb)
            .unwrap();
        assert_eq!(
            rgb,
            resize_rgb(&img, 400, 266).into_raw(),
            "the pixels sent"
        );

        // A photo smaller than its panel is sent at the panel's size, not scaled up by the
        // terminal (kitty's scaling is what made photos soft).
        let small = RgbImage::from_pixel(40, 30, image::Rgb([1, 2, 3]));
        let at = super::super::place(40, 30, Rect::new(0, 0, 50, 20), (8.0, 16.0), true, None);
        let cmds = kitty_commands(&encode(&small, &at).unwrap());
        assert!(
            has(&cmds[0].0, "s=400") && has(&cmds[0].0, "v=300"),
            "{}",
            cmds[0].0
        );
        assert!(
            has(&cmds[0].0, "Y=10"),
            "(320 − 300) / 2 px down: {}",
            cmds[0].0
        );
    }

    #[test]
    fn placeholder_images_are_a_virtual_placement_of_their_cells() {
        let img = RgbImage::from_pixel(300, 200, image::Rgb([9, 9, 9]));
        let at = super::super::placement(
            super::super::Driver {
                protocol: super::super::Protocol::Kitty,
                in_tmux: true,
            },
            300,
            200,
            Rect::new(0, 0, 40, 20),
            (8.0, 16.0),
        );
        let cmds = kitty_commands(&transmit_for_placeholders(&img, &at, 0x0300_002A).unwrap());
        let first = &cmds[0].0;
        for key in ["a=T", "U=1", "i=50331690", "q=2", "c=40", "r=13"] {
            assert!(has(first, key), "{key} in {first}");
        }
        assert!(
            !first.contains("C=1"),
            "nothing is placed at the cursor: {first}"
        );
    }

    #[test]
    fn placeholder_cells_number_their_row_and_column_with_diacritics() {
        let id = 0x0300_002A;
        let s = placeholder(0, 0, id);
        let cs: Vec<u32> = s.chars().map(|c| c as u32).collect();
        assert_eq!(
            cs,
            vec![0x10EEEE, 0x0305, 0x0305, 0x0310],
            "row 0, col 0, id byte 3"
        );
        let cs: Vec<u32> = placeholder(2, 17, id).chars().map(|c| c as u32).collect();
        assert_eq!(cs, vec![0x10EEEE, 0x030E, 0x0363, 0x0310]);
        let last: Vec<u32> = placeholder(296, 35, id).chars().map(|c| c as u32).collect();
        assert_eq!((last[1], last[2]), (0x1D244, 0x0592));
        // Every mark is a combining one of class 230 (drawn above, zero width): distinct.
        let mut seen = DIACRITICS.to_vec();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), 297);
        assert_eq!(placeholder_colour(id), 0x2A);
    }

    #[test]
    fn placeholder_ids_have_a_colour_byte_and_differ_between_photos() {
        let a = RgbImage::new(2, 2);
        let b = RgbImage::new(2, 2);
        let (ia, ib) = (
            placeholder_id(&a as *const _ as usize),
            placeholder_id(&b as *const _ as usize),
        );
        assert_ne!(ia, ib);
        for id in [ia, ib] {
            assert!(
                placeholder_colour(id) != 0 && id & 0x00FF_FF00 == 0,
                "{id:#x}"
            );
        }
    }
}
