//! Images (JPEG, PNG, GIF, WebP): size checked before decoding, EXIF orientation applied,
//! metadata dropped (the image is re-encoded from pixels), scaled down, re-encoded compressed,
//! plus a thumbnail. Avatars are cropped square in two sizes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageFormat, ImageReader};

use super::{Job, Kind, MediaError, Processed};
use crate::MediaSettings;

/// Longest side the decoder accepts at all, whatever the pixel budget.
const MAX_SIDE: u32 = 32_768;

/// Whether a GIF has more than one frame (it is then treated as a video). Reads only the frame
/// headers, not the pixels.
pub fn gif_is_animated(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut opts = gif::DecodeOptions::new();
    opts.set_color_output(gif::ColorOutput::Indexed);
    let Ok(mut decoder) = opts.read_info(BufReader::new(file)) else {
        return false;
    };
    let mut frames = 0;
    while let Ok(Some(_)) = decoder.next_frame_info() {
        frames += 1;
        if frames > 1 {
            return true;
        }
    }
    false
}

/// Decodes an image without trusting its header: the dimensions are checked against the pixel
/// budget before any pixel buffer is allocated, and the decoder's allocations are capped.
pub fn decode(path: &Path, max_pixels: u64) -> Result<DynamicImage, MediaError> {
    let reader = ImageReader::new(BufReader::new(File::open(path)?))
        .with_guessed_format()
        .map_err(|e| MediaError::rejected(format!("cannot read the image: {e}")))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP) => {}
        _ => return Err(MediaError::rejected("not a JPEG, PNG, GIF or WebP image")),
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Room for the decoded pixels at 8 bytes each (16-bit RGBA) plus the decoder's own buffers.
    limits.max_alloc = Some(max_pixels.saturating_mul(8).saturating_add(64 << 20));
    let mut reader = reader;
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|e| too_big_or_corrupt(&e))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(MediaError::rejected("the image has no pixels"));
    }
    if u64::from(w) * u64::from(h) > max_pixels {
        return Err(MediaError::rejected(format!(
            "the image is {w}×{h} pixels; at most {max_pixels} pixels are accepted"
        )));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|e| too_big_or_corrupt(&e))?;
    img.apply_orientation(orientation);
    Ok(img)
}

fn too_big_or_corrupt(e: &image::ImageError) -> MediaError {
    match e {
        image::ImageError::Limits(_) => {
            MediaError::rejected(format!("the image is too large: {e}"))
        }
        _ => MediaError::rejected(format!("the image is damaged or unsupported: {e}")),
    }
}

/// Writes `img` as JPEG (flattened on white if it has transparency) with the given quality.
pub fn write_jpeg(img: &DynamicImage, path: &Path, quality: u8) -> Result<(), MediaError> {
    let rgb = if img.color().has_alpha() {
        flatten(img)
    } else {
        img.to_rgb8()
    };
    let mut out = BufWriter::new(File::create(path)?);
    JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            image::ExtendedColorType::Rgb8,
        )
        .map_err(|e| MediaError::rejected(format!("cannot encode JPEG: {e}")))?;
    out.flush()?;
    Ok(())
}

fn write_png(img: &DynamicImage, path: &Path) -> Result<(), MediaError> {
    let rgba = img.to_rgba8();
    let mut out = BufWriter::new(File::create(path)?);
    PngEncoder::new_with_quality(&mut out, CompressionType::Best, PngFilter::Adaptive)
        .write_image(
            rgba.as_raw(),
            rgba.width(),
            rgba.height(),
            image::ExtendedColorType::Rgba8,
        )
        .map_err(|e| MediaError::rejected(format!("cannot encode PNG: {e}")))?;
    out.flush()?;
    Ok(())
}

fn flatten(img: &DynamicImage) -> image::RgbImage {
    let rgba = img.to_rgba8();
    image::RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let p = rgba.get_pixel(x, y).0;
        let a = u16::from(p[3]);
        let mix = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
        image::Rgb([mix(p[0]), mix(p[1]), mix(p[2])])
    })
}

/// Whether any pixel is not fully opaque.
fn has_transparency(img: &DynamicImage) -> bool {
    img.color().has_alpha() && img.to_rgba8().pixels().any(|p| p.0[3] < 255)
}

/// Scales down (never up) so the longer edge is at most `edge` (Lanczos3; sizes rounded as the
/// image crate's `resize` rounds them).
pub fn fit(img: &DynamicImage, edge: u32) -> DynamicImage {
    let (w, h) = (img.width(), img.height());
    if w.max(h) <= edge {
        return img.clone();
    }
    let ratio = f64::from(edge) / f64::from(w.max(h));
    let size = |v: u32| ((f64::from(v) * ratio).round() as u32).max(1);
    let (nw, nh) = (size(w), size(h));
    super::scale::lanczos(img, nw, nh)
        .unwrap_or_else(|| img.resize_exact(nw, nh, FilterType::Lanczos3))
}

/// The image pipeline: see the module doc.
pub fn process(job: &Job, opts: &MediaSettings) -> Result<Processed, MediaError> {
    let img = decode(&job.input, opts.image_max_pixels)?;
    let dir = &job.out_dir;
    if job.avatar {
        let side = img.width().min(img.height());
        let square = img.crop_imm(
            (img.width() - side) / 2,
            (img.height() - side) / 2,
            side,
            side,
        );
        let big = square.resize_exact(
            opts.avatar_size.min(side),
            opts.avatar_size.min(side),
            FilterType::Lanczos3,
        );
        let small = square.resize_exact(
            opts.avatar_thumb_size.min(side),
            opts.avatar_thumb_size.min(side),
            FilterType::Lanczos3,
        );
        write_jpeg(&big, &dir.join("avatar.jpg"), opts.jpeg_quality)?;
        write_jpeg(&small, &dir.join("avatar-small.jpg"), opts.jpeg_quality)?;
        return Ok(Processed {
            kind: Kind::Image,
            mime: "image/jpeg".into(),
            content: "avatar.jpg".into(),
            thumb: Some("avatar-small.jpg".into()),
            size: std::fs::metadata(dir.join("avatar.jpg"))?.len(),
            width: Some(big.width()),
            height: Some(big.height()),
            duration_ms: None,
        });
    }
    let scaled = fit(&img, opts.image_max_edge);
    let thumb = fit(&scaled, opts.thumb_edge);
    // Transparency survives as PNG; everything else becomes JPEG, the compact choice for photos.
    let (content, mime) = if has_transparency(&scaled) {
        write_png(&scaled, &dir.join("image.png"))?;
        write_png(&thumb, &dir.join("thumb.png"))?;
        (("image.png", "thumb.png"), "image/png")
    } else {
        write_jpeg(&scaled, &dir.join("image.jpg"), opts.jpeg_quality)?;
        write_jpeg(&thumb, &dir.join("thumb.jpg"), opts.jpeg_quality)?;
        (("image.jpg", "thumb.jpg"), "image/jpeg")
    };
    Ok(Processed {
        kind: Kind::Image,
        mime: mime.into(),
        content: content.0.into(),
        thumb: Some(content.1.into()),
        size: std::fs::metadata(dir.join(content.0))?.len(),
        width: Some(scaled.width()),
        height: Some(scaled.height()),
        duration_ms: None,
    })
}
