//! Lanczos3 scaling of 8-bit RGB and RGBA images through FFmpeg's swscale, which is vectorised:
//! on a 12 MP photo the image crate's own Lanczos3 resize was about two thirds of the whole
//! image job (`make bench-media`). Other pixel types fall back to the image crate.

use ff::format::Pixel;
use ff::software::scaling::{Context, Flags};
use ffmpeg_next as ff;
use image::{DynamicImage, RgbImage, RgbaImage};

/// `img` scaled to exactly `w`×`h` with Lanczos3, or `None` when swscale cannot do it (another
/// pixel type, FFmpeg unavailable); the caller then uses the image crate.
pub fn lanczos(img: &DynamicImage, w: u32, h: u32) -> Option<DynamicImage> {
    let (pixel, bytes_pp) = match img {
        DynamicImage::ImageRgb8(_) => (Pixel::RGB24, 3usize),
        DynamicImage::ImageRgba8(_) => (Pixel::RGBA, 4usize),
        _ => return None,
    };
    if w == 0 || h == 0 || !super::av::init() {
        return None;
    }
    let (sw, sh) = (img.width(), img.height());
    let mut src = ff::frame::Video::new(pixel, sw, sh);
    copy_rows(img.as_bytes(), sw as usize * bytes_pp, &mut src)?;
    // Full-resolution chroma in and out, exact rounding: RGB stays RGB without a 4:2:0 detour.
    let flags =
        Flags::LANCZOS | Flags::ACCURATE_RND | Flags::FULL_CHR_H_INT | Flags::FULL_CHR_H_INP;
    let mut scaler = Context::get(pixel, sw, sh, pixel, w, h, flags).ok()?;
    let mut dst = ff::frame::Video::empty();
    scaler.run(&src, &mut dst).ok()?;
    let row = w as usize * bytes_pp;
    let stride = dst.stride(0);
    let data = dst.data(0);
    let mut out = Vec::with_capacity(row * h as usize);
    for y in 0..h as usize {
        out.extend_from_slice(data.get(y * stride..y * stride + row)?);
    }
    match bytes_pp {
        3 => RgbImage::from_raw(w, h, out).map(DynamicImage::ImageRgb8),
        _ => RgbaImage::from_raw(w, h, out).map(DynamicImage::ImageRgba8),
    }
}

/// Copies tightly packed rows of `row` bytes into a frame's (padded) first plane.
fn copy_rows(raw: &[u8], row: usize, frame: &mut ff::frame::Video) -> Option<()> {
    let stride = frame.stride(0);
    let rows = frame.height() as usize;
    let plane = frame.data_mut(0);
    for y in 0..rows {
        plane
            .get_mut(y * stride..y * stride + row)?
            .copy_from_slice(raw.get(y * row..(y + 1) * row)?);
    }
    Some(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use image::imageops::FilterType;

    #[test]
    fn matches_the_image_crates_lanczos3() {
        let src = DynamicImage::ImageRgb8(RgbImage::from_fn(400, 300, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x * y) % 251) as u8])
        }));
        let ours = lanczos(&src, 200, 150).unwrap();
        let theirs = src.resize_exact(200, 150, FilterType::Lanczos3);
        assert_eq!((ours.width(), ours.height()), (200, 150));
        let diff: u64 = ours
            .as_bytes()
            .iter()
            .zip(theirs.as_bytes())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = diff as f64 / ours.as_bytes().len() as f64;
        assert!(mean < 2.0, "mean difference {mean}");
    }

    #[test]
    fn keeps_alpha_and_leaves_other_types_to_the_image_crate() {
        let src =
            DynamicImage::ImageRgba8(RgbaImage::from_pixel(64, 64, image::Rgba([10, 20, 30, 40])));
        let out = lanczos(&src, 16, 16).unwrap();
        assert!(out.as_bytes().chunks(4).all(|p| p == [10, 20, 30, 40]));
        let gray = DynamicImage::ImageLuma8(image::GrayImage::new(8, 8));
        assert!(lanczos(&gray, 4, 4).is_none());
    }
}
