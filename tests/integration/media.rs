//! Media end to end: uploads over HTTP, processing on the MediaWorker pool reported as `media`
//! frames, the processed files fetched through the URLs the server hands out and probed the way
//! a player would (image decoders, FFmpeg), and attachments as the other member of a
//! conversation sees them. Every input is generated here (image crate, png crate, FFmpeg
//! encoders); nothing is downloaded.

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use chat_server::config::Settings;
use chat_server::ids::UserId;
use chat_server::media::Kind;
use chat_server::store::media::{new_upload, Purpose};
use ffmpeg_next as ff;
use serde_json::{json, Value};

use crate::support::app::{spawn_app_with, TestApp, TestUser, WsClient};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Small limits so that tiny inputs exercise scaling.
pub(crate) fn media_settings(s: &mut Settings) {
    s.media.workers = 2;
    s.media.image_max_edge = 800;
    s.media.thumb_edge = 160;
    s.media.avatar_size = 128;
    s.media.avatar_thumb_size = 48;
    s.media.video_max_height = 96;
    s.media.video_cpu_used = 8;
}

async fn media_app() -> TestApp {
    spawn_app_with(media_settings).await
}

/// The app (test media settings, then `tweak`) with a registered user, alice, connected over
/// WebSocket to see `media` frames.
async fn uploader_with(tweak: impl FnOnce(&mut Settings)) -> (TestApp, TestUser, WsClient) {
    let app = spawn_app_with(|s| {
        media_settings(s);
        tweak(s);
    })
    .await;
    let alice = app.register("alice").await;
    let ws = alice.connect().await;
    (app, alice, ws)
}

/// A multipart/form-data body with one file field.
fn multipart(field: &str, file_name: &str, content_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = format!("----test{}", uuid::Uuid::new_v4().simple());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

pub(crate) async fn upload_as(
    user: &TestUser,
    query: &str,
    file_name: &str,
    content_type: &str,
    data: &[u8],
) -> reqwest::Response {
    let (ct, body) = multipart("file", file_name, content_type, data);
    user.client
        .post(format!("{}/api/media{query}", user.http))
        .bearer_auth(&user.token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Uploads and returns the media id (asserting 202 {id, status: processing}).
pub(crate) async fn upload(user: &TestUser, file_name: &str, data: &[u8]) -> String {
    let r = upload_as(user, "", file_name, "application/octet-stream", data).await;
    assert_eq!(r.status(), 202, "upload of {file_name}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "processing");
    body["id"].as_str().unwrap().to_owned()
}

/// Waits for the `media` frame that ends processing of `id`; returns it.
pub(crate) async fn finished(ws: &mut WsClient, id: &str) -> Value {
    let id = id.to_owned();
    ws.expect_where("media", move |f| {
        f["id"] == id.as_str() && f["status"] != "processing"
    })
    .await
}

/// Uploads, waits until processed, and returns `GET /api/media/{id}`.
async fn process(user: &TestUser, ws: &mut WsClient, file_name: &str, data: &[u8]) -> Value {
    let id = upload(user, file_name, data).await;
    let done = finished(ws, &id).await;
    let info = get_json(user, &format!("/api/media/{id}")).await;
    assert_eq!(
        info["status"], done["status"],
        "frame and GET agree: {done} {info}"
    );
    info
}

pub(crate) async fn get_json(user: &TestUser, path: &str) -> Value {
    let r = user.get(path).await;
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

/// Fetches a URL the server handed out, without any credentials (as an `<img>` tag would).
async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    assert!(url.starts_with("/media/"), "unexpected url {url}");
    app.client
        .get(format!("{}{url}", app.http))
        .send()
        .await
        .unwrap()
}

async fn fetch_bytes(app: &TestApp, url: &str) -> Vec<u8> {
    let r = fetch(app, url).await;
    assert_eq!(r.status(), 200, "GET {url}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    r.bytes().await.unwrap().to_vec()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// Files left anywhere under the media directory.
pub(crate) fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// A deterministic noise source (photos compress badly as PNG, like real ones).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u8 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 56) as u8
    }
}

/// A photo-like PNG: gradients plus noise.
pub(crate) fn photo_png(w: u32, h: u32) -> Vec<u8> {
    let mut rng = Lcg(7);
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        let n = rng.next() / 4;
        image::Rgb([
            ((x * 255 / w) as u8).saturating_add(n),
            ((y * 255 / h) as u8).saturating_add(n),
            128u8.saturating_add(n),
        ])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A 200×100 JPEG, left half red and right half blue, with an EXIF block saying "rotate 90°
/// clockwise to display" (orientation 6) and a camera make that must not survive.
fn exif_rotated_jpeg() -> Vec<u8> {
    let img = image::RgbImage::from_fn(200, 100, |x, _| {
        if x < 100 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    let mut plain = Cursor::new(Vec::new());
    img.write_to(&mut plain, image::ImageFormat::Jpeg).unwrap();
    let plain = plain.into_inner();
    // TIFF (big-endian): header, IFD0 with Orientation=6 and Make="SecretCam".
    let make = b"SecretCam\0";
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x0f, 0, 2]); // Make, ASCII
    tiff.extend_from_slice(&(make.len() as u32).to_be_bytes());
    tiff.extend_from_slice(&(8 + 2 + 2 * 12 + 4u32).to_be_bytes()); // offset of the string
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]); // Orientation, SHORT, 6
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(make);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&plain[2..]);
    out
}

/// A 20000×20000 PNG of a few dozen KB: 400 megapixels once decoded.
fn bomb_png() -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, 20_000, 20_000);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    enc.set_compression(png::Compression::High);
    let mut writer = enc.write_header().unwrap();
    let mut stream = writer.stream_writer().unwrap();
    let row = vec![0u8; 20_000 / 8];
    for _ in 0..20_000 {
        std::io::Write::write_all(&mut stream, &row).unwrap();
    }
    stream.finish().unwrap();
    drop(writer);
    out
}

/// A mono 16-bit PCM WAV of a 440 Hz tone.
fn wav(secs: f64, rate: u32) -> Vec<u8> {
    let n = (secs * f64::from(rate)) as u32;
    let mut out = b"RIFF".to_vec();
    out.extend_from_slice(&(36 + n * 2).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(n * 2).to_le_bytes());
    for i in 0..n {
        let v = (f64::from(i) * 440.0 * std::f64::consts::TAU / f64::from(rate)).sin() * 12_000.0;
        out.extend_from_slice(&(v as i16).to_le_bytes());
    }
    out
}

/// A Matroska file with `secs` of raw 160×120 video at 25 fps (a moving gradient) and a PCM
/// tone, written with FFmpeg's own encoders: large, like an unprocessed phone capture.
pub(crate) fn raw_video(path: &Path, secs: u32) {
    video_file(path, ff::codec::Id::RAWVIDEO, (160, 120), secs);
}

/// A Matroska file with `secs` of `w`×`h` video at 25 fps in `codec` (a moving gradient, made
/// of whole rows so that large frames are cheap to draw) and a PCM tone.
fn video_file(path: &Path, codec: ff::codec::Id, (w, h): (u32, u32), secs: u32) {
    use ff::format::{sample::Type as SampleType, Pixel, Sample};
    ff::init().unwrap();
    let mut octx = ff::format::output_as(path, "matroska").unwrap();
    let vcodec = ff::encoder::find(codec).unwrap();
    let mut venc = ff::codec::context::Context::new_with_codec(vcodec)
        .encoder()
        .video()
        .unwrap();
    venc.set_width(w);
    venc.set_height(h);
    venc.set_format(Pixel::YUV420P);
    venc.set_time_base((1, 25));
    venc.set_frame_rate(Some(ff::Rational(25, 1)));
    let mut venc = venc.open().unwrap();
    let mut vst = octx.add_stream(vcodec).unwrap();
    vst.set_parameters(&venc);
    let acodec = ff::encoder::find(ff::codec::Id::PCM_S16LE).unwrap();
    let mut aenc = ff::codec::context::Context::new_with_codec(acodec)
        .encoder()
        .audio()
        .unwrap();
    aenc.set_rate(48_000);
    aenc.set_channel_layout(ff::ChannelLayout::MONO);
    aenc.set_channels(1);
    aenc.set_format(Sample::I16(SampleType::Packed));
    aenc.set_time_base((1, 48_000));
    let mut aenc = aenc.open().unwrap();
    let mut ast = octx.add_stream(acodec).unwrap();
    ast.set_parameters(&aenc);
    octx.write_header().unwrap();
    let (vtb, atb) = (
        octx.stream(0).unwrap().time_base(),
        octx.stream(1).unwrap().time_base(),
    );

    fn drain(
        enc: &mut ff::encoder::Encoder,
        octx: &mut ff::format::context::Output,
        index: usize,
        from: ff::Rational,
        to: ff::Rational,
    ) {
        let mut pkt = ff::Packet::empty();
        while enc.receive_packet(&mut pkt).is_ok() {
            pkt.set_stream(index);
            pkt.rescale_ts(from, to);
            pkt.write_interleaved(octx).unwrap();
        }
    }
    for i in 0..(25 * secs) {
        let mut f = ff::frame::Video::new(Pixel::YUV420P, w, h);
        let stride = f.stride(0);
        for (y, row) in f
            .data_mut(0)
            .chunks_mut(stride)
            .enumerate()
            .take(h as usize)
        {
            row.fill(((y + i as usize * 4) % 256) as u8);
        }
        f.data_mut(1).fill(100);
        f.data_mut(2).fill(150);
        f.set_pts(Some(i64::from(i)));
        venc.send_frame(&f).unwrap();
        drain(&mut venc, &mut octx, 0, (1, 25).into(), vtb);
    }
    let samples = 48_000 * secs as usize;
    let mut done = 0;
    while done < samples {
        let n = 1024.min(samples - done);
        let mut f =
            ff::frame::Audio::new(Sample::I16(SampleType::Packed), n, ff::ChannelLayout::MONO);
        for (k, s) in f.data_mut(0).chunks_exact_mut(2).take(n).enumerate() {
            let v =
                (((done + k) as f64) * 440.0 * std::f64::consts::TAU / 48_000.0).sin() * 10_000.0;
            s.copy_from_slice(&(v as i16).to_le_bytes());
        }
        f.set_pts(Some(done as i64));
        aenc.send_frame(&f).unwrap();
        drain(&mut aenc, &mut octx, 1, (1, 48_000).into(), atb);
        done += n;
    }
    venc.send_eof().unwrap();
    drain(&mut venc, &mut octx, 0, (1, 25).into(), vtb);
    aenc.send_eof().unwrap();
    drain(&mut aenc, &mut octx, 1, (1, 48_000).into(), atb);
    octx.write_trailer().unwrap();
}

/// What FFmpeg reads from a file: container names, codecs of its streams, duration in ms.
struct Probe {
    format: String,
    codecs: Vec<ff::codec::Id>,
    video_size: Option<(u32, u32)>,
    duration_ms: i64,
}

fn probe(bytes: &[u8]) -> Probe {
    ff::init().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe");
    std::fs::write(&path, bytes).unwrap();
    let ictx = ff::format::input(&path).unwrap();
    let mut video_size = None;
    let codecs = ictx
        .streams()
        .map(|s| {
            if s.parameters().medium() == ff::media::Type::Video {
                let dec = ff::codec::context::Context::from_parameters(s.parameters())
                    .unwrap()
                    .decoder()
                    .video()
                    .unwrap();
                video_size = Some((dec.width(), dec.height()));
            }
            s.parameters().id()
        })
        .collect();
    Probe {
        format: ictx.format().name().to_owned(),
        codecs,
        video_size,
        duration_ms: ictx.duration() / 1000,
    }
}

/// The WebM doctype is in the EBML header at the start of the file.
fn is_webm(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0x1a, 0x45, 0xdf, 0xa3])
        && bytes[..64.min(bytes.len())]
            .windows(4)
            .any(|w| w == b"webm")
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn photos_are_scaled_compressed_and_thumbnailed() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let input = photo_png(1600, 1200);
    let id = upload(&alice, "holiday.png", &input).await;
    let progress = {
        let id = id.clone();
        ws.expect_where("media", move |f| {
            f["id"] == id.as_str() && f["status"] == "processing"
        })
        .await
    };
    assert!(progress["progress"].is_u64(), "progress frame: {progress}");
    assert_eq!(finished(&mut ws, &id).await["status"], "ready");
    let info = get_json(&alice, &format!("/api/media/{id}")).await;
    assert_eq!(info["kind"], "image");
    assert_eq!(info["mime"], "image/jpeg");
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(800), Some(600))
    );
    assert!(
        info["size"].as_u64().unwrap() < input.len() as u64 / 4,
        "compressed: {info}"
    );

    let r = fetch(&app, info["url"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "image/jpeg");
    assert!(header(&r, "cache-control").contains("max-age"));
    let content = r.bytes().await.unwrap();
    assert_eq!(content.len() as u64, info["size"].as_u64().unwrap());
    let img = image::load_from_memory(&content).unwrap();
    assert_eq!((img.width(), img.height()), (800, 600));
    let thumb =
        image::load_from_memory(&fetch_bytes(&app, info["thumb_url"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!((thumb.width(), thumb.height()), (160, 120));
}

#[actix_web::test]
async fn exif_orientation_is_applied_and_metadata_stripped() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let input = exif_rotated_jpeg();
    assert!(input.windows(9).any(|w| w == b"SecretCam"));
    let info = process(&alice, &mut ws, "IMG_0001.JPG", &input).await;
    assert_eq!(info["status"], "ready", "{info}");
    // Stored 200×100 with "rotate 90° clockwise": displayed 100×200, the red half on top.
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(100), Some(200))
    );
    let bytes = fetch_bytes(&app, info["url"].as_str().unwrap()).await;
    assert!(!bytes.windows(4).any(|w| w == b"Exif"), "EXIF block kept");
    assert!(
        !bytes.windows(9).any(|w| w == b"SecretCam"),
        "camera make kept"
    );
    let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (100, 200));
    let (top, bottom) = (img.get_pixel(50, 40).0, img.get_pixel(50, 160).0);
    assert!(top[0] > 200 && top[2] < 60, "top should be red: {top:?}");
    assert!(
        bottom[2] > 200 && bottom[0] < 60,
        "bottom should be blue: {bottom:?}"
    );
}

#[actix_web::test]
async fn avatars_are_square_in_two_sizes() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let r = upload_as(
        &alice,
        "?purpose=avatar",
        "me.png",
        "image/png",
        &photo_png(300, 200),
    )
    .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(finished(&mut ws, &id).await["status"], "ready");
    let info = get_json(&alice, &format!("/api/media/{id}")).await;
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(128), Some(128))
    );
    let big =
        image::load_from_memory(&fetch_bytes(&app, info["url"].as_str().unwrap()).await).unwrap();
    let small =
        image::load_from_memory(&fetch_bytes(&app, info["thumb_url"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!((big.width(), big.height()), (128, 128));
    assert_eq!((small.width(), small.height()), (48, 48));
    // An avatar must be a picture.
    let r = upload_as(
        &alice,
        "?purpose=avatar",
        "me.pdf",
        "image/png",
        b"%PDF-1.7\n1 0 obj\n",
    )
    .await;
    assert_eq!(r.status(), 400);
    // A purpose the server does not know is refused before anything is stored.
    let r = upload_as(
        &alice,
        "?purpose=banner",
        "me.png",
        "image/png",
        &photo_png(30, 20),
    )
    .await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["message"], "purpose: attachment or avatar");
}

#[actix_web::test]
async fn decompression_bomb_is_refused_fast_and_the_worker_keeps_serving() {
    // Made first: a slow step between requests could outlive the client's idle connection.
    let bomb = bomb_png();
    let (_app, alice, mut ws) = uploader_with(|s| s.media.workers = 1).await;
    assert!(bomb.len() < 100_000, "bomb is {} bytes", bomb.len());
    let started = Instant::now();
    let info = process(&alice, &mut ws, "small.png", &bomb).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(info["status"], "failed");
    assert!(info["error"].as_str().unwrap().contains("pixels"), "{info}");
    assert!(info["url"].is_null());
    // The same (single) worker goes on with the next job.
    let ok = process(&alice, &mut ws, "fine.png", &photo_png(64, 48)).await;
    assert_eq!(ok["status"], "ready", "{ok}");
}

// ---------------------------------------------------------------------------------------------
// Audio and video
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn video_becomes_smaller_vp8_opus_webm_with_poster_and_duration() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mkv");
    raw_video(&path, 1);
    let input = std::fs::read(&path).unwrap();
    let info = process(&alice, &mut ws, "clip.mkv", &input).await;
    assert_eq!(info["status"], "ready", "{info}");
    assert_eq!(info["kind"], "video");
    assert_eq!(info["mime"], "video/webm");
    // 160×120 scaled to the configured 96 lines, aspect kept.
    assert_eq!(
        (info["width"].as_u64(), info["height"].as_u64()),
        (Some(128), Some(96))
    );
    let duration = info["duration_ms"].as_i64().unwrap();
    assert!((850..=1150).contains(&duration), "duration {duration}");

    let r = fetch(&app, info["url"].as_str().unwrap()).await;
    assert_eq!(header(&r, "content-type"), "video/webm");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert!(!header(&r, "etag").is_empty());
    let out = r.bytes().await.unwrap().to_vec();
    assert!(
        out.len() < input.len() / 2,
        "output {} bytes, input {}",
        out.len(),
        input.len()
    );
    assert!(is_webm(&out));
    let p = probe(&out);
    assert!(p.format.contains("webm"), "{}", p.format);
    assert_eq!(p.codecs, vec![ff::codec::Id::VP8, ff::codec::Id::OPUS]);
    assert_eq!(p.video_size, Some((128, 96)));
    assert!(
        (850..=1150).contains(&p.duration_ms),
        "probed duration {}",
        p.duration_ms
    );

    // A range request, as a player seeking.
    let r = app
        .client
        .get(format!("{}{}", app.http, info["url"].as_str().unwrap()))
        .header("range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &out[100..200]);

    let poster =
        image::load_from_memory(&fetch_bytes(&app, info["thumb_url"].as_str().unwrap()).await)
            .unwrap();
    assert_eq!((poster.width(), poster.height()), (128, 96));
}

#[actix_web::test]
async fn voice_notes_become_opus_webm_with_duration() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let input = wav(1.5, 44_100);
    let info = process(&alice, &mut ws, "voice.wav", &input).await;
    assert_eq!(info["status"], "ready", "{info}");
    assert_eq!(info["kind"], "audio");
    assert_eq!(info["mime"], "audio/webm");
    assert!(info.get("thumb_url").is_none());
    let duration = info["duration_ms"].as_i64().unwrap();
    assert!((1400..=1600).contains(&duration), "duration {duration}");
    let out = fetch_bytes(&app, info["url"].as_str().unwrap()).await;
    assert!(
        out.len() < input.len() / 4,
        "output {} bytes, input {}",
        out.len(),
        input.len()
    );
    assert!(is_webm(&out));
    let p = probe(&out);
    assert_eq!(p.codecs, vec![ff::codec::Id::OPUS]);
    assert!(
        (1400..=1600).contains(&p.duration_ms),
        "probed duration {}",
        p.duration_ms
    );
}

#[actix_web::test]
async fn corrupt_video_fails_cleanly_and_the_worker_keeps_serving() {
    let (app, alice, mut ws) = uploader_with(|s| s.media.workers = 1).await;
    // A Matroska header followed by garbage; and a real video cut in half.
    let mut garbage = vec![0x1a, 0x45, 0xdf, 0xa3, 0x9f, 0x42, 0x86, 0x81, 0x01];
    let mut rng = Lcg(3);
    garbage.extend((0..50_000).map(|_| rng.next()));
    let info = process(&alice, &mut ws, "broken.mkv", &garbage).await;
    assert_eq!(info["status"], "failed", "{info}");
    assert!(!info["error"].as_str().unwrap().is_empty());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clip.mkv");
    raw_video(&path, 1);
    let whole = std::fs::read(&path).unwrap();
    let cut = process(&alice, &mut ws, "cut.mkv", &whole[..whole.len() / 2]).await;
    assert!(
        cut["status"] == "ready" || cut["status"] == "failed",
        "{cut}"
    );
    // Nothing of the failed uploads is kept.
    let media_dir = app.dir.path().join("media");
    let id = info["id"].as_str().unwrap();
    assert!(!media_dir.join(id).exists());
    // The worker is still there.
    let ok = process(&alice, &mut ws, "voice.wav", &wav(0.5, 16_000)).await;
    assert_eq!(ok["status"], "ready", "{ok}");
}

#[actix_web::test]
async fn a_job_over_the_time_limit_fails_and_the_worker_keeps_serving() {
    // A 720p clip kept at 720p and encoded at libvpx's slowest speed takes many seconds here;
    // the limit is one.
    let (_app, alice, mut ws) = uploader_with(|s| {
        s.media.workers = 1;
        s.media.job_timeout_secs = 1;
        s.media.video_max_height = 720;
        s.media.video_cpu_used = 0;
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.mkv");
    video_file(&path, ff::codec::Id::MPEG4, (1280, 720), 8);
    let slow = process(&alice, &mut ws, "long.mkv", &std::fs::read(&path).unwrap()).await;
    assert_eq!(slow["status"], "failed", "{slow}");
    assert_eq!(
        slow["error"], "processing took longer than 1 seconds",
        "{slow}"
    );
    // The one worker is free again and finishes a short job within the same limit.
    let ok = process(&alice, &mut ws, "voice.wav", &wav(0.5, 16_000)).await;
    assert_eq!(ok["status"], "ready", "{ok}");
}

#[actix_web::test]
async fn media_worker_threads_run_under_sched_idle_by_default() {
    // Field 41 of /proc/self/task/<tid>/stat is the scheduling policy (5: SCHED_IDLE); the
    // test's own threads are under the normal policy.
    let policy_of = |stat: &str| -> Option<i64> {
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split_whitespace().nth(38)?.parse().ok()
    };
    let idle_threads = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
            .filter(|stat| policy_of(stat) == Some(5))
            .count()
    };
    let before = idle_threads();
    let _app = spawn_app_with(|s| {
        media_settings(s);
        s.media.workers = 1;
        s.media.worker_sched_idle = Settings::default().media.worker_sched_idle;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while idle_threads() <= before {
        assert!(
            Instant::now() < deadline,
            "no media worker under SCHED_IDLE"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Uploads and downloads
// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn oversized_uploads_get_413_and_leave_nothing_behind() {
    let app = spawn_app_with(|s| {
        media_settings(s);
        s.media.max_upload_bytes = 100_000;
    })
    .await;
    let alice = app.register("alice").await;
    let media_dir = app.dir.path().join("media");
    // Just over the cap: refused while streaming, after part of it was written.
    let r = upload_as(
        &alice,
        "",
        "big.bin",
        "application/octet-stream",
        &vec![7u8; 150_000],
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "too_large"
    );
    assert_eq!(files_under(&media_dir), Vec::<std::path::PathBuf>::new());
    // Far over the cap: refused from Content-Length alone.
    let r = upload_as(
        &alice,
        "",
        "huge.bin",
        "application/octet-stream",
        &vec![7u8; 2_000_000],
    )
    .await;
    assert_eq!(r.status(), 413);
    assert_eq!(files_under(&media_dir), Vec::<std::path::PathBuf>::new());
    let rows = <entities::media::Entity as sea_orm::EntityTrait>::find()
        .all(&app.state.store.db)
        .await
        .unwrap();
    assert!(rows.is_empty());
    // Under the cap it works.
    let r = upload_as(
        &alice,
        "",
        "ok.bin",
        "application/octet-stream",
        &vec![7u8; 90_000],
    )
    .await;
    assert_eq!(r.status(), 202);
    // No `file` field: 400.
    let (ct, body) = multipart("other", "x.txt", "text/plain", b"hello");
    let r = alice
        .client
        .post(format!("{}/api/media", alice.http))
        .bearer_auth(&alice.token)
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    // Not logged in: 401.
    let (ct, body) = multipart("file", "x.txt", "text/plain", b"hello");
    let r = app
        .client
        .post(format!("{}/api/media", app.http))
        .header("content-type", ct)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[actix_web::test]
async fn other_files_are_kept_as_they_are_and_served_as_downloads() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    // An HTML page that claims to be a PNG by name and declared type: the bytes decide.
    let html = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>";
    let r = upload_as(&alice, "", "../../x;evil<>.png", "image/png", html).await;
    assert_eq!(r.status(), 202);
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(finished(&mut ws, &id).await["status"], "ready");
    let info = get_json(&alice, &format!("/api/media/{id}")).await;
    assert_eq!(info["kind"], "file");
    assert_eq!(info["size"], html.len());
    assert_eq!(info["name"], "x_evil__.png");
    let r = fetch(&app, info["url"].as_str().unwrap()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/octet-stream");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    let disposition = header(&r, "content-disposition");
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(
        disposition.contains("x_evil__.png") && !disposition.contains('/'),
        "{disposition}"
    );
    assert!(header(&r, "content-security-policy").contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), html);
    // A zero-byte file is just a file.
    let empty = process(&alice, &mut ws, "empty", b"").await;
    assert_eq!(
        (
            empty["status"].as_str(),
            empty["kind"].as_str(),
            empty["size"].as_u64()
        ),
        (Some("ready"), Some("file"), Some(0))
    );
    // Client file names never become paths: everything on disk has a server-made name.
    for f in files_under(&app.dir.path().join("media")) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            ["file", "upload"].contains(&name.as_str()),
            "unexpected file {name}"
        );
    }
}

#[actix_web::test]
async fn media_of_other_people_is_404_like_a_missing_id() {
    let app = media_app().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let mut ws = alice.connect().await;
    let info = process(&alice, &mut ws, "a.png", &photo_png(40, 30)).await;
    let id = info["id"].as_str().unwrap();
    let url = info["url"].as_str().unwrap();

    let theirs = bob.get(&format!("/api/media/{id}")).await;
    let missing = bob.get("/api/media/0123456789abcdef0123456789abcdef").await;
    assert_eq!(theirs.status(), 404);
    assert_eq!(missing.status(), 404);
    assert_eq!(
        theirs.json::<Value>().await.unwrap(),
        missing.json::<Value>().await.unwrap()
    );
    // Content: bob's own token is not enough; neither is a tampered or an unsigned URL.
    let path = url.split('?').next().unwrap();
    let r = app
        .client
        .get(format!("{}{path}", app.http))
        .bearer_auth(&bob.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(fetch(&app, path).await.status(), 404);
    let tampered = url.replace("sig=", "sig=A");
    assert_eq!(fetch(&app, &tampered).await.status(), 404);
    let other_variant = url.replace("/content?", "/thumb?");
    assert_eq!(fetch(&app, &other_variant).await.status(), 404);
    // The uploader may use a token instead of a signed URL.
    let r = app
        .client
        .get(format!("{}{path}", app.http))
        .bearer_auth(&alice.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Attachments
// ---------------------------------------------------------------------------------------------

/// The fields of `GET /api/media/{id}` an attachment must carry.
fn assert_attachment(a: &Value, info: &Value) {
    for k in ["id", "status", "kind", "mime", "size", "width", "height"] {
        assert_eq!(a[k], info[k], "attachment field {k}: {a}");
    }
    assert!(
        a["url"].as_str().is_some_and(|u| u.starts_with("/media/")),
        "{a}"
    );
    assert!(
        a["thumb_url"]
            .as_str()
            .is_some_and(|u| u.starts_with("/media/")),
        "{a}"
    );
}

#[actix_web::test]
async fn attachments_reach_the_recipient_in_message_history_and_sync() {
    let app = media_app().await;
    let (alice, bob, carol) = (
        app.register("alice").await,
        app.register("bob").await,
        app.register("carol").await,
    );
    let room = alice.dm(&bob).await;
    let mut wa = alice.connect().await;
    let mut wb = bob.connect().await;
    let info = process(&alice, &mut wa, "pic.png", &photo_png(120, 90)).await;
    let id = info["id"].as_str().unwrap().to_owned();

    wa.send(json!({"type": "send", "room": room, "client_id": "c1", "body": "look", "attachments": [id]})).await;
    let ack = wa
        .expect_where_any(&["ack", "error"], |f| f["client_id"] == "c1")
        .await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let live = wb.expect_where("message", |f| f["client_id"] == "c1").await;
    assert_eq!(live["attachments"].as_array().unwrap().len(), 1);
    assert_attachment(&live["attachments"][0], &info);
    // The recipient's URLs work.
    let img = image::load_from_memory(
        &fetch_bytes(&app, live["attachments"][0]["url"].as_str().unwrap()).await,
    )
    .unwrap();
    assert_eq!((img.width(), img.height()), (120, 90));
    fetch_bytes(&app, live["attachments"][0]["thumb_url"].as_str().unwrap()).await;

    wb.send(json!({"type": "history", "room": room})).await;
    let h = wb.expect("history").await;
    assert_attachment(&h["messages"][0]["attachments"][0], &info);
    let page = get_json(&bob, &format!("/api/rooms/{room}/messages")).await;
    assert_attachment(&page["messages"][0]["attachments"][0], &info);
    let mut wb2 = bob.connect().await;
    wb2.send(json!({"type": "sync", "cursors": {room.clone(): 0}}))
        .await;
    let synced = wb2.expect("message").await;
    assert_attachment(&synced["attachments"][0], &info);
    wb2.expect("synced").await;

    // Bob may now look it up; carol, who is in no room with it, may not.
    assert_eq!(
        get_json(&bob, &format!("/api/media/{id}")).await["id"],
        id.as_str()
    );
    assert_eq!(carol.get(&format!("/api/media/{id}")).await.status(), 404);
}

#[actix_web::test]
async fn attachments_must_be_the_senders_own_ready_media() {
    let bomb = bomb_png();
    let app = media_app().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = alice.dm(&bob).await;
    let mut wa = alice.connect().await;
    let mut wb = bob.connect().await;
    let bobs = process(&bob, &mut wb, "b.png", &photo_png(40, 30)).await;
    let failed = process(&alice, &mut wa, "bad.png", &bomb).await;
    assert_eq!(failed["status"], "failed");
    // A row still processing, as a slow job leaves it.
    let pending = uuid::Uuid::new_v4().simple().to_string();
    let row = new_upload(
        &pending,
        &UserId(alice.id.clone()),
        Purpose::Attachment,
        Kind::Video,
        "video/mp4",
        10,
        None,
    );
    app.state.store.create_media(row).await.unwrap();
    let mine = process(&alice, &mut wa, "a.png", &photo_png(40, 30)).await;
    let too_many: Vec<String> = (0..11).map(|i| format!("m{i}")).collect();
    let cases: Vec<(Value, &str)> = vec![
        (json!([bobs["id"]]), "not_found"),
        (json!(["0123456789abcdef0123456789abcdef"]), "not_found"),
        (json!([failed["id"]]), "invalid"),
        (json!([pending]), "invalid"),
        (json!([mine["id"], mine["id"]]), "invalid"),
        (json!(too_many), "invalid"),
    ];
    for (i, (attachments, code)) in cases.into_iter().enumerate() {
        let cid = format!("bad{i}");
        wa.send(json!({"type": "send", "room": room, "client_id": cid, "body": "x", "attachments": attachments})).await;
        let cid2 = cid.clone();
        let f = wa
            .expect_where_any(&["ack", "error"], move |f| f["client_id"] == cid2.as_str())
            .await;
        assert_eq!(
            (f["type"].as_str(), f["code"].as_str()),
            (Some("error"), Some(code)),
            "case {i}: {f}"
        );
    }
    // Not a member of the room: not_member.
    let other = bob.dm(&app.register("dave").await).await;
    wa.send(json!({"type": "send", "room": other, "client_id": "nm", "body": "x", "attachments": [mine["id"]]})).await;
    let f = wa
        .expect_where_any(&["ack", "error"], |f| f["client_id"] == "nm")
        .await;
    assert_eq!(f["code"], "not_member", "{f}");
    // Nothing of this reached bob, and a good attachment still goes through.
    let ok = wa.send_with_id(&room, "fine", "okc").await;
    assert_eq!(ok["seq"], 1);
    wa.send(json!({"type": "send", "room": room, "client_id": "good", "body": "x", "attachments": [mine["id"]]})).await;
    let f = wa
        .expect_where_any(&["ack", "error"], |f| f["client_id"] == "good")
        .await;
    assert_eq!(
        (f["type"].as_str(), f["seq"].as_i64()),
        (Some("ack"), Some(2)),
        "{f}"
    );
    let m = wb
        .expect_where("message", |f| f["client_id"] == "good")
        .await;
    assert_eq!(m["attachments"][0]["id"], mine["id"]);
}

#[actix_web::test]
async fn playlists_and_concat_lists_are_not_followed() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    // A real video on disk that a playlist could point FFmpeg at.
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mkv");
    raw_video(&clip, 1);
    let hls = format!(
        "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nfile://{}\n#EXT-X-ENDLIST\n",
        clip.display()
    );
    let concat = format!("ffconcat version 1.0\nfile '{}'\n", clip.display());
    for (name, text) in [("list.m3u8", hls), ("list.ffconcat", concat)] {
        let info = process(&alice, &mut ws, name, text.as_bytes()).await;
        assert_eq!(
            (info["status"].as_str(), info["kind"].as_str()),
            (Some("ready"), Some("file")),
            "{name}: {info}"
        );
        assert_eq!(
            fetch_bytes(&app, info["url"].as_str().unwrap()).await,
            text.as_bytes()
        );
    }
}

#[actix_web::test]
async fn formats_outside_the_demuxer_allowlist_are_kept_as_plain_files() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    // A valid YUV4MPEG2 stream (two 16×16 frames): FFmpeg reads it as video, but it is not a
    // container people send, so it is not in the allowlist.
    let mut y4m = b"YUV4MPEG2 W16 H16 F25:1 Ip A1:1 C420jpeg\n".to_vec();
    for i in 0..2u8 {
        y4m.extend_from_slice(b"FRAME\n");
        y4m.extend(std::iter::repeat_n(i * 60 + 40, 16 * 16 * 3 / 2));
    }
    let info = process(&alice, &mut ws, "clip.y4m", &y4m).await;
    assert_eq!(
        (info["status"].as_str(), info["kind"].as_str()),
        (Some("ready"), Some("file")),
        "{info}"
    );
    assert_eq!(fetch_bytes(&app, info["url"].as_str().unwrap()).await, y4m);
    // A container on the list still becomes video.
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("clip.mkv");
    raw_video(&clip, 1);
    let video = process(&alice, &mut ws, "clip.mkv", &std::fs::read(&clip).unwrap()).await;
    assert_eq!(video["kind"], "video", "{video}");
}

#[actix_web::test]
async fn outputs_over_the_size_cap_fail_the_job() {
    let (app, alice, mut ws) = uploader_with(|s| s.media.max_output_bytes = 2_000).await;
    let info = process(&alice, &mut ws, "long.wav", &wav(2.0, 48_000)).await;
    assert_eq!(info["status"], "failed", "{info}");
    assert!(
        info["error"]
            .as_str()
            .unwrap()
            .contains("larger than 2000 bytes"),
        "{info}"
    );
    assert!(!app
        .dir
        .path()
        .join("media")
        .join(info["id"].as_str().unwrap())
        .exists());
}

#[actix_web::test]
async fn animated_gifs_become_silent_vp8_video() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let mut gif = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut gif);
        for i in 0..10u8 {
            let img = image::RgbaImage::from_fn(64, 48, |x, y| {
                image::Rgba([x as u8 * 4, y as u8 * 5, i * 25, 255])
            });
            let delay = image::Delay::from_numer_denom_ms(100, 1);
            enc.encode_frame(image::Frame::from_parts(img, 0, 0, delay))
                .unwrap();
        }
    }
    let info = process(&alice, &mut ws, "funny.gif", &gif).await;
    assert_eq!(
        (info["status"].as_str(), info["kind"].as_str()),
        (Some("ready"), Some("video")),
        "{info}"
    );
    let p = probe(&fetch_bytes(&app, info["url"].as_str().unwrap()).await);
    assert_eq!(p.codecs, vec![ff::codec::Id::VP8]);
    assert_eq!(p.video_size, Some((64, 48)));
    // A GIF of one frame stays a picture.
    let mut still = Cursor::new(Vec::new());
    image::RgbImage::from_pixel(30, 20, image::Rgb([9, 9, 9]))
        .write_to(&mut still, image::ImageFormat::Gif)
        .unwrap();
    let info = process(&alice, &mut ws, "still.gif", &still.into_inner()).await;
    assert_eq!(
        (info["kind"].as_str(), info["mime"].as_str()),
        (Some("image"), Some("image/jpeg")),
        "{info}"
    );
}

#[actix_web::test]
async fn an_avatar_is_set_on_the_profile_and_others_can_see_it() {
    let (app, alice, mut ws) = uploader_with(|_| {}).await;
    let bob = app.register("bob").await;
    let set = |user: &TestUser, body: Value| {
        let user = user.clone();
        async move {
            user.client
                .patch(format!("{}/api/me", user.http))
                .bearer_auth(&user.token)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // A plain upload, or one still processing, is not an avatar.
    let plain = upload(&alice, "p.png", &photo_png(40, 40)).await;
    finished(&mut ws, &plain).await;
    assert_eq!(set(&alice, json!({"avatar": plain})).await.status(), 400);
    let r = upload_as(
        &alice,
        "?purpose=avatar",
        "me.png",
        "image/png",
        &photo_png(300, 200),
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(finished(&mut ws, &id).await["status"], "ready");
    // Before it is set, Bob cannot see it; after, he can, through its signed URL.
    assert_eq!(bob.get(&format!("/api/media/{id}")).await.status(), 404);
    assert_eq!(
        set(&bob, json!({"avatar": id})).await.status(),
        400,
        "not Bob's upload"
    );
    let me: Value = set(&alice, json!({"avatar": id}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["user"]["avatar"], id.as_str());
    let profile = get_json(&bob, &format!("/api/users/{}", alice.id)).await;
    assert_eq!(profile["user"]["avatar"], id.as_str());
    let info = get_json(&bob, &format!("/api/media/{id}")).await;
    let img =
        image::load_from_memory(&fetch_bytes(&app, info["url"].as_str().unwrap()).await).unwrap();
    assert_eq!((img.width(), img.height()), (128, 128));
    // Removing it.
    let me: Value = set(&alice, json!({"avatar": null}))
        .await
        .json()
        .await
        .unwrap();
    assert!(me["user"]["avatar"].is_null());
}

#[actix_web::test]
async fn a_deleted_messages_attachment_is_no_longer_viewable_by_the_room() {
    let app = media_app().await;
    let (alice, bob) = (app.register("alice").await, app.register("bob").await);
    let room = alice.dm(&bob).await;
    let mut wa = alice.connect().await;
    let mut wb = bob.connect().await;
    let media = process(&alice, &mut wa, "a.png", &photo_png(40, 30)).await;
    let id = media["id"].as_str().unwrap().to_owned();
    let mut sent = Vec::new();
    for cid in ["one", "two"] {
        wa.send(json!({"type": "send", "room": room, "client_id": cid, "body": "look", "attachments": [id]}))
            .await;
        sent.push(wa.expect_where("ack", |f| f["client_id"] == cid).await["id"].clone());
    }
    let status = |who: &TestUser| {
        let (who, path) = (who.clone(), format!("/api/media/{id}"));
        async move { who.get(&path).await.status().as_u16() }
    };
    assert_eq!(status(&bob).await, 200);
    for (i, msg) in sent.iter().enumerate() {
        wa.send(json!({"type": "delete", "id": msg})).await;
        wb.expect_where("deleted", |f| f["id"] == *msg).await;
        // Still sent in the other message after the first delete; gone after the second.
        assert_eq!(status(&bob).await, if i == 0 { 200 } else { 404 });
    }
    // Its uploader still has it.
    assert_eq!(status(&alice).await, 200);
}

#[actix_web::test]
async fn uploads_stop_at_the_users_quota() {
    let png = photo_png(40, 30);
    let (_app, alice, mut wa) =
        uploader_with(|s| s.media.quota_bytes_per_user = png.len() as u64 + 1).await;
    // The first fits; the bytes it keeps stored leave too little for the second.
    process(&alice, &mut wa, "a.png", &png).await;
    let r = upload_as(&alice, "", "b.png", "image/png", &png).await;
    assert_eq!(r.status(), 413);
    let e: Value = r.json().await.unwrap();
    assert!(
        e["error"]["message"].as_str().unwrap().contains("quota"),
        "{e}"
    );
}

/// The MediaWorker threads run at `media.worker_nice`, so transcodes yield the CPU to chat work.
#[actix_web::test]
async fn media_worker_threads_run_at_the_configured_nice_value() {
    // Field 19 of /proc/self/task/<tid>/stat is the nice value (after the parenthesised name).
    let nice_of = |stat: &str| -> Option<i64> {
        let rest = &stat[stat.rfind(')')? + 2..];
        rest.split_whitespace().nth(16)?.parse().ok()
    };
    // Workers never get a higher priority than the server's (under `nice -n 19` this test can
    // only see 19).
    let own = nice_of(&std::fs::read_to_string("/proc/thread-self/stat").unwrap()).unwrap();
    let want = own.max(17);
    let _app = spawn_app_with(|s| {
        media_settings(s);
        s.media.workers = 1;
        s.media.worker_nice = 17;
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .flatten()
            .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
            .any(|stat| nice_of(&stat) == Some(want));
        if found {
            return;
        }
        assert!(Instant::now() < deadline, "no thread at nice {want}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Uploads a picture with `purpose=avatar` and waits until it is ready; returns its id.
async fn avatar_upload(user: &TestUser, ws: &mut WsClient) -> String {
    let r = upload_as(
        user,
        "?purpose=avatar",
        "me.png",
        "image/png",
        &photo_png(60, 60),
    )
    .await;
    let id = r.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(finished(ws, &id).await["status"], "ready");
    id
}

#[actix_web::test]
async fn uploads_never_attached_are_swept_and_attached_ones_and_avatars_stay() {
    use chat_server::actors::media_sweep::sweep_unattached;

    let (app, alice, mut wa) = uploader_with(|_| {}).await;
    let bob = app.register("bob").await;
    let room = alice.dm(&bob).await;
    let group = alice.group("pics", &[&bob]).await;
    let id_of = |info: &Value| info["id"].as_str().unwrap().to_owned();
    let lone = id_of(&process(&alice, &mut wa, "lone.png", &photo_png(40, 30)).await);
    let lone_url = get_json(&alice, &format!("/api/media/{lone}")).await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let sent = id_of(&process(&alice, &mut wa, "sent.png", &photo_png(40, 30)).await);
    let unsent = id_of(&process(&alice, &mut wa, "unsent.png", &photo_png(40, 30)).await);
    let profile_avatar = avatar_upload(&alice, &mut wa).await;
    let group_avatar = avatar_upload(&alice, &mut wa).await;

    for (cid, id) in [("c1", &sent), ("c2", &unsent)] {
        wa.send(json!({"type": "send", "room": room, "client_id": cid, "body": "look", "attachments": [id]}))
            .await;
        let ack = wa
            .expect_where_any(&["ack", "error"], |f| f["client_id"] == cid)
            .await;
        assert_eq!(ack["type"], "ack", "{ack}");
        if cid == "c2" {
            // Deleting the only message that carried it leaves it unattached again.
            wa.send(json!({"type": "delete", "id": ack["id"]})).await;
            wa.expect_where("deleted", |f| f["id"] == ack["id"]).await;
        }
    }
    let r = alice
        .client
        .patch(format!("{}/api/me", alice.http))
        .bearer_auth(&alice.token)
        .json(&json!({"avatar": profile_avatar}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = alice
        .client
        .patch(format!("{}/api/rooms/{group}", alice.http))
        .bearer_auth(&alice.token)
        .json(&json!({"avatar": group_avatar}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // A round with every item old enough: only the one never attached goes.
    let dir = std::path::PathBuf::from(&app.state.settings.media.dir);
    let cutoff = chat_server::ids::now_ms() + 1;
    let swept = sweep_unattached(app.state.store.clone(), dir.clone(), cutoff)
        .await
        .unwrap();
    let mut swept = swept;
    swept.sort();
    let mut expected = vec![lone.clone(), unsent.clone()];
    expected.sort();
    assert_eq!(swept, expected);
    for id in [&lone, &unsent] {
        assert_eq!(alice.get(&format!("/api/media/{id}")).await.status(), 404);
        assert!(!dir.join(id).exists(), "its files are gone");
    }
    assert_eq!(fetch(&app, &lone_url).await.status(), 404);
    for id in [&sent, &profile_avatar, &group_avatar] {
        let info = get_json(&alice, &format!("/api/media/{id}")).await;
        fetch_bytes(&app, info["url"].as_str().unwrap()).await;
    }
    // Nothing more goes in a second round.
    let again = sweep_unattached(app.state.store.clone(), dir, cutoff)
        .await
        .unwrap();
    assert!(again.is_empty(), "{again:?}");
    app.quiesce().await;
}

#[actix_web::test]
async fn the_sweeper_removes_unattached_uploads_after_media_unattached_ttl_secs() {
    let (app, alice, mut wa) = uploader_with(|s| s.media.unattached_ttl_secs = 1).await;
    let lone = upload(&alice, "lone.png", &photo_png(40, 30)).await;
    assert_eq!(finished(&mut wa, &lone).await["status"], "ready");
    // The sweeper runs on its timer (every 250 ms with a TTL of 1 s); there is no event for a
    // round, so this polls what a client observes, for at most 10 s.
    let path = format!("/api/media/{lone}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while alice.get(&path).await.status() != 404 {
        assert!(Instant::now() < deadline, "the upload was never swept");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.quiesce().await;
}
