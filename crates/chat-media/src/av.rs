//! Audio and video through FFmpeg (ffmpeg-next): anything FFmpeg demuxes becomes WebM, with VP8
//! video (scaled to `video_max_height`, bitrate capped) and Opus audio, plus a JPEG poster for
//! videos and the duration.
//!
//! Hostile input: FFmpeg may open only the uploaded file (`protocol_whitelist=file`) and only with
//! an allowlist of common audio/video containers (so never playlists, concat lists or other
//! demuxers that pull in other resources, nor rarely used parsers); the job's time
//! limit interrupts FFmpeg's own I/O as well as the transcoding loop; the output size is capped;
//! damaged input ends in an error, never a panic.

use std::ffi::CStr;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use ff::format::context::{Input, Output};
use ff::media::Type as MediaType;
use ff::{codec, filter, format, frame, ChannelLayout, Dictionary, Packet, Rational, Rescale};
use ffmpeg_next as ff;

use super::{Job, Kind, MediaError, Processed, Progress};
use crate::MediaSettings;

/// The only demuxers uploads are opened with: the containers phones, browsers and cameras write
/// for audio and video (and animated GIF). Everything else FFmpeg can read — playlists and
/// manifests that pull in other files or URLs, raw streams, text read as video, rarely used
/// parsers — is never reached from an upload; such a file is kept as a plain file.
const ALLOWED_DEMUXERS: [&str; 27] = [
    "mov", "mp4", "m4a", "3gp", "3g2", "mj2", // MP4 / QuickTime family
    "matroska", "webm", // Matroska / WebM
    "avi", "asf", "flv", "mpeg", "mpegts", // older video containers
    "ogg", "mp3", "wav", "w64", "flac", "aac", "aiff", "caf", // audio
    "amr", "amrnb", "amrwb", // voice notes of older phones
    "ape", "dsf", // audio formats the sniffer recognises
    "gif", // animated GIFs become video
];

/// libvpx constrained quality: `crf` sets the quality, `media.video_bitrate_kbps` the ceiling.
pub const VP8_CRF: u32 = 10;
/// libvpx `deadline` (`good`: the speed/quality trade-off is then `media.video_cpu_used`).
pub const VP8_DEADLINE: &str = "good";
/// swscale algorithm of the video scaler (FFmpeg `scale` filter `flags`).
pub const SCALE_FLAGS: &str = "bicubic";

/// Output time base of WebM (milliseconds).
const MS: Rational = Rational(1, 1000);

/// Initialises FFmpeg once (quiet logs). Returns false if it cannot be used.
pub fn init() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let ok = ff::init().is_ok();
        ff::util::log::set_level(ff::util::log::Level::Fatal);
        ok
    })
}

/// The demuxers of [`ALLOWED_DEMUXERS`] this FFmpeg has, by their full names (such as
/// `mov,mp4,m4a,3gp,3g2,mj2`), as the value of `format_whitelist`.
fn allowed_demuxers() -> &'static str {
    static LIST: OnceLock<String> = OnceLock::new();
    LIST.get_or_init(|| {
        let mut names = Vec::new();
        let mut opaque = std::ptr::null_mut();
        loop {
            // SAFETY: av_demuxer_iterate walks FFmpeg's static demuxer table; the returned
            // pointers and their names live as long as the process.
            let demuxer = unsafe { ff::ffi::av_demuxer_iterate(&mut opaque) };
            if demuxer.is_null() {
                break;
            }
            // SAFETY: non-null entries of the table have a valid, NUL-terminated name.
            let name = unsafe { CStr::from_ptr((*demuxer).name) }
                .to_string_lossy()
                .into_owned();
            if name.split(',').any(|n| ALLOWED_DEMUXERS.contains(&n)) {
                names.push(name);
            }
        }
        names.join(",")
    })
}

/// Opens the upload for demuxing with the restrictions of the module doc.
fn open_input(path: &Path, deadline: Instant) -> Result<Input, MediaError> {
    if !init() {
        return Err(MediaError::rejected(
            "audio/video processing is not available on this server",
        ));
    }
    let mut opts = Dictionary::new();
    opts.set("protocol_whitelist", "file");
    opts.set("format_whitelist", allowed_demuxers());
    ff::format::input_with_interrupt_and_dictionary(path, move || Instant::now() > deadline, opts)
        .map_err(|e| MediaError::rejected(format!("not a readable audio or video file ({e})")))
}

/// The stream to use of `kind`, skipping cover pictures.
fn best_stream(ictx: &Input, kind: MediaType) -> Option<usize> {
    let best = ictx.streams().best(kind)?;
    if best
        .disposition()
        .contains(format::stream::Disposition::ATTACHED_PIC)
    {
        return ictx
            .streams()
            .find(|s| {
                s.parameters().medium() == kind
                    && !s
                        .disposition()
                        .contains(format::stream::Disposition::ATTACHED_PIC)
            })
            .map(|s| s.index());
    }
    Some(best.index())
}

/// Whether FFmpeg can read audio or video from this file (for uploads the sniffer did not know).
pub fn demuxable(path: &Path) -> bool {
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    let Ok(ictx) = open_input(path, deadline) else {
        return false;
    };
    let name = ictx.format().name().to_owned();
    // Still images that FFmpeg also reads are kept as files.
    if name.contains("image2") || name.ends_with("_pipe") {
        return false;
    }
    [MediaType::Video, MediaType::Audio].into_iter().any(|k| {
        best_stream(&ictx, k).is_some_and(|i| {
            ictx.stream(i)
                .is_some_and(|s| codec::decoder::find(s.parameters().id()).is_some())
        })
    })
}

fn ff_err(what: &'static str) -> impl Fn(ff::Error) -> MediaError {
    move |e| MediaError::rejected(format!("{what}: {e}"))
}

/// Clockwise rotation (0, 90, 180, 270) a player applies to this stream (phone videos).
fn rotation_of(stream: &format::stream::Stream) -> u32 {
    for sd in stream.side_data() {
        if sd.kind() != codec::packet::side_data::Type::DisplayMatrix || sd.data().len() < 36 {
            continue;
        }
        let m: Vec<f64> = sd
            .data()
            .chunks_exact(4)
            .take(9)
            .map(|c| f64::from(i32::from_ne_bytes([c[0], c[1], c[2], c[3]])))
            .collect();
        // As av_display_rotation_get, negated: the angle to turn the picture clockwise.
        let (s0, s1) = (m[0].hypot(m[3]), m[1].hypot(m[4]));
        if s0 == 0.0 || s1 == 0.0 {
            return 0;
        }
        // The negation of av_display_rotation_get (which is counter-clockwise).
        let cw = (m[1] / s1).atan2(m[0] / s0).to_degrees().rem_euclid(360.0);
        return ((cw / 90.0).round() as u32 % 4) * 90;
    }
    0
}

/// Output size: at most `max_h` high (and 4096 wide), aspect kept, even sides.
pub fn target_size(w: u32, h: u32, max_h: u32) -> (u32, u32) {
    let (w, h) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let scale = (f64::from(max_h) / h).min(4096.0 / w).min(1.0);
    let even = |v: f64| ((v * scale / 2.0).round() as u32).max(1) * 2;
    (even(w), even(h))
}

/// Decoder → filter graph → encoder for one stream.
struct Pipe {
    input: usize,
    output: usize,
    decoder: codec::decoder::Opened,
    graph: filter::Graph,
    encoder: codec::encoder::Encoder,
    enc_tb: Rational,
    /// Video frames leave the filter graph in the stream's time base and enter the encoder in
    /// `enc_tb` (one tick per frame).
    retime: Option<Retime>,
    video: bool,
}

/// Moves video frames onto the encoder's one-tick-per-frame clock.
struct Retime {
    from: Rational,
    /// The last tick given to the encoder.
    last: Option<i64>,
}

impl Retime {
    /// The frame's tick in `to`, or None when it falls on the tick of the frame before (a
    /// variable-frame-rate input running faster than its average): that frame is dropped, as
    /// the ffmpeg CLI's `-vsync vfr` does for WebM.
    fn tick(&mut self, pts: Option<i64>, to: Rational) -> Option<Option<i64>> {
        let Some(pts) = pts else {
            return Some(None);
        };
        let tick = pts.rescale(self.from, to);
        if self.last.is_some_and(|last| tick <= last) {
            return None;
        }
        self.last = Some(tick);
        Some(Some(tick))
    }
}

fn video_pipe(
    ictx: &Input,
    octx: &mut Output,
    index: usize,
    opts: &MediaSettings,
) -> Result<(Pipe, u32, u32), MediaError> {
    let stream = ictx
        .stream(index)
        .ok_or_else(|| MediaError::rejected("video stream vanished"))?;
    let ctx = codec::context::Context::from_parameters(stream.parameters())
        .map_err(ff_err("video decoder"))?;
    let mut dec = ctx.decoder();
    dec.set_packet_time_base(stream.time_base());
    let decoder = dec.video().map_err(ff_err("cannot decode this video"))?;
    let tb = stream.time_base();
    let (w, h) = (decoder.width(), decoder.height());
    if w == 0 || h == 0 {
        return Err(MediaError::rejected("the video has no picture size"));
    }
    if u64::from(w) * u64::from(h) > opts.image_max_pixels {
        return Err(MediaError::rejected(format!(
            "the video is {w}×{h} pixels; too large"
        )));
    }
    let rotation = rotation_of(&stream);
    let (rw, rh) = if rotation % 180 == 90 { (h, w) } else { (w, h) };
    let (ow, oh) = target_size(rw, rh, opts.video_max_height);
    let rate = Some(stream.avg_frame_rate())
        .filter(|r| r.numerator() > 0 && r.denominator() > 0)
        .unwrap_or(Rational(25, 1));

    let mut graph = filter::Graph::new();
    let sar = decoder.aspect_ratio();
    let sar = if sar.numerator() > 0 {
        sar
    } else {
        Rational(1, 1)
    };
    let args = format!(
        "video_size={w}x{h}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}",
        ff::ffi::AVPixelFormat::from(decoder.format()) as i32,
        tb.numerator(),
        tb.denominator(),
        sar.numerator(),
        sar.denominator()
    );
    let buffer = filter::find("buffer")
        .ok_or_else(|| MediaError::rejected("FFmpeg has no buffer filter"))?;
    let sink = filter::find("buffersink")
        .ok_or_else(|| MediaError::rejected("FFmpeg has no buffersink filter"))?;
    graph
        .add(&buffer, "in", &args)
        .map_err(ff_err("video filter"))?;
    graph
        .add(&sink, "out", "")
        .map_err(ff_err("video filter"))?;
    let turn = match rotation {
        90 => "transpose=clock,",
        180 => "hflip,vflip,",
        270 => "transpose=cclock,",
        _ => "",
    };
    let spec = format!("{turn}scale={ow}:{oh}:flags={SCALE_FLAGS},setsar=1,format=yuv420p");
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&spec))
        .map_err(ff_err("video filter"))?;
    graph.validate().map_err(ff_err("video filter"))?;

    let vp8 = codec::encoder::find_by_name("libvpx")
        .ok_or_else(|| MediaError::rejected("this server's FFmpeg has no VP8 encoder (libvpx)"))?;
    let global = octx
        .format()
        .flags()
        .contains(format::flag::Flags::GLOBAL_HEADER);
    let mut ost = octx.add_stream(vp8).map_err(ff_err("output"))?;
    let output = ost.index();
    let mut enc = codec::context::Context::new_with_codec(vp8)
        .encoder()
        .video()
        .map_err(ff_err("VP8 encoder"))?;
    enc.set_width(ow);
    enc.set_height(oh);
    enc.set_format(format::Pixel::YUV420P);
    // One tick per frame, as the ffmpeg CLI does: FFmpeg tells libvpx that each frame lasts one
    // tick of this time base, which then is the frame's real duration.
    let enc_tb = Rational(rate.denominator(), rate.numerator());
    enc.set_time_base(enc_tb);
    enc.set_frame_rate(Some(rate));
    enc.set_aspect_ratio(Rational(1, 1));
    enc.set_bit_rate(opts.video_bitrate_kbps as usize * 1000);
    if global {
        enc.set_flags(codec::flag::Flags::GLOBAL_HEADER);
    }
    let mut eo = Dictionary::new();
    // Constrained quality: crf sets the quality, bit_rate the ceiling.
    eo.set("crf", &VP8_CRF.to_string());
    eo.set("deadline", VP8_DEADLINE);
    eo.set("cpu-used", &opts.video_cpu_used.to_string());
    let encoder = enc.open_with(eo).map_err(ff_err("VP8 encoder"))?;
    ost.set_parameters(&encoder);
    ost.set_time_base(MS);
    let pipe = Pipe {
        input: index,
        output,
        decoder: decoder.0,
        graph,
        encoder: encoder.0 .0,
        enc_tb,
        retime: Some(Retime {
            from: tb,
            last: None,
        }),
        video: true,
    };
    Ok((pipe, ow, oh))
}

fn audio_pipe(
    ictx: &Input,
    octx: &mut Output,
    index: usize,
    opts: &MediaSettings,
) -> Result<Pipe, MediaError> {
    let stream = ictx
        .stream(index)
        .ok_or_else(|| MediaError::rejected("audio stream vanished"))?;
    let ctx = codec::context::Context::from_parameters(stream.parameters())
        .map_err(ff_err("audio decoder"))?;
    let mut dec = ctx.decoder();
    dec.set_packet_time_base(stream.time_base());
    let decoder = dec.audio().map_err(ff_err("cannot decode this audio"))?;
    let channels = decoder.channels().max(1);
    if decoder.rate() == 0 {
        return Err(MediaError::rejected("the audio has no sample rate"));
    }
    let in_layout = match decoder.channel_layout() {
        l if l.bits() != 0 && l.channels() == i32::from(channels) => l,
        _ => ChannelLayout::default(i32::from(channels)),
    };
    let tb = stream.time_base();

    let opus = codec::encoder::find_by_name("libopus").ok_or_else(|| {
        MediaError::rejected("this server's FFmpeg has no Opus encoder (libopus)")
    })?;
    let global = octx
        .format()
        .flags()
        .contains(format::flag::Flags::GLOBAL_HEADER);
    let mut ost = octx.add_stream(opus).map_err(ff_err("output"))?;
    let output = ost.index();
    let mut enc = codec::context::Context::new_with_codec(opus)
        .encoder()
        .audio()
        .map_err(ff_err("Opus encoder"))?;
    let layout = if channels == 1 {
        ChannelLayout::MONO
    } else {
        ChannelLayout::STEREO
    };
    let sample_fmt = opus
        .audio()
        .ok()
        .and_then(|a| a.formats())
        .and_then(|mut f| f.next())
        .unwrap_or(format::Sample::I16(format::sample::Type::Packed));
    enc.set_rate(48_000);
    enc.set_channel_layout(layout);
    enc.set_channels(layout.channels());
    enc.set_format(sample_fmt);
    enc.set_bit_rate(opts.audio_bitrate_kbps as usize * 1000);
    enc.set_time_base(Rational(1, 48_000));
    if global {
        enc.set_flags(codec::flag::Flags::GLOBAL_HEADER);
    }
    let encoder = enc.open().map_err(ff_err("Opus encoder"))?;
    ost.set_parameters(&encoder);
    ost.set_time_base(MS);

    let mut graph = filter::Graph::new();
    let args = format!(
        "time_base={}/{}:sample_rate={}:sample_fmt={}:channel_layout=0x{:x}",
        tb.numerator(),
        tb.denominator(),
        decoder.rate(),
        decoder.format().name(),
        in_layout.bits()
    );
    let abuffer = filter::find("abuffer")
        .ok_or_else(|| MediaError::rejected("FFmpeg has no abuffer filter"))?;
    let sink = filter::find("abuffersink")
        .ok_or_else(|| MediaError::rejected("FFmpeg has no abuffersink filter"))?;
    graph
        .add(&abuffer, "in", &args)
        .map_err(ff_err("audio filter"))?;
    graph
        .add(&sink, "out", "")
        .map_err(ff_err("audio filter"))?;
    // The conversion is spelled out: buffersink's format options are not honoured by every
    // FFmpeg version (5.1 leaves the output rate unset).
    let spec = format!(
        "aresample=48000,aformat=sample_fmts={}:sample_rates=48000:channel_layouts={}",
        encoder.format().name(),
        if channels == 1 { "mono" } else { "stereo" }
    );
    graph
        .output("in", 0)
        .and_then(|p| p.input("out", 0))
        .and_then(|p| p.parse(&spec))
        .map_err(ff_err("audio filter"))?;
    graph.validate().map_err(ff_err("audio filter"))?;
    if let Some(mut out) = graph.get("out") {
        out.sink().set_frame_size(encoder.frame_size().max(1));
    }
    Ok(Pipe {
        input: index,
        output,
        decoder: decoder.0,
        graph,
        encoder: encoder.0 .0,
        enc_tb: Rational(1, 48_000),
        retime: None,
        video: false,
    })
}

/// Counts what was written, for the size cap and the duration.
struct Sink<'a> {
    octx: &'a mut Output,
    bytes: u64,
    max_bytes: u64,
    end_ms: i64,
    packets: u64,
}

impl Sink<'_> {
    fn drain(&mut self, pipe: &mut Pipe) -> Result<(), MediaError> {
        let mut pkt = Packet::empty();
        while pipe.encoder.receive_packet(&mut pkt).is_ok() {
            pkt.set_stream(pipe.output);
            pkt.rescale_ts(pipe.enc_tb, MS);
            if let Some(pts) = pkt.pts() {
                self.end_ms = self.end_ms.max(pts + pkt.duration().max(0));
            }
            self.bytes += pkt.size() as u64;
            self.packets += 1;
            if self.bytes > self.max_bytes {
                return Err(MediaError::OutputTooLarge(self.max_bytes));
            }
            pkt.write_interleaved(self.octx)
                .map_err(ff_err("cannot write the output"))?;
        }
        Ok(())
    }
}

/// The poster: the first picture, scaled into the thumbnail box.
struct Poster {
    path: std::path::PathBuf,
    edge: u32,
    quality: u8,
    done: bool,
}

impl Poster {
    fn take(&mut self, f: &frame::Video) -> Result<(), MediaError> {
        if self.done {
            return Ok(());
        }
        self.done = true;
        let mut scaler = ff::software::scaling::Context::get(
            f.format(),
            f.width(),
            f.height(),
            format::Pixel::RGB24,
            f.width(),
            f.height(),
            ff::software::scaling::Flags::BILINEAR,
        )
        .map_err(ff_err("poster"))?;
        let mut rgb = frame::Video::empty();
        scaler.run(f, &mut rgb).map_err(ff_err("poster"))?;
        let (w, h, stride) = (rgb.width() as usize, rgb.height() as usize, rgb.stride(0));
        let data = rgb.data(0);
        let mut pixels = Vec::with_capacity(w * h * 3);
        for row in 0..h {
            let start = row * stride;
            pixels.extend_from_slice(
                data.get(start..start + w * 3)
                    .ok_or_else(|| MediaError::rejected("poster: short frame"))?,
            );
        }
        let img = image::RgbImage::from_raw(w as u32, h as u32, pixels)
            .ok_or_else(|| MediaError::rejected("poster: bad frame"))?;
        let img = super::images::fit(&image::DynamicImage::ImageRgb8(img), self.edge);
        super::images::write_jpeg(&img, &self.path, self.quality)
    }
}

impl Pipe {
    /// Pulls filtered frames into the encoder (and the poster), then packets into the output.
    fn pump_filter(&mut self, sink: &mut Sink, poster: &mut Poster) -> Result<(), MediaError> {
        let Some(mut out) = self.graph.get("out") else {
            return Ok(());
        };
        // A video-typed holder serves audio frames too: only the poster reads it as video.
        let mut filtered = frame::Video::empty();
        while out.sink().frame(&mut filtered).is_ok() {
            if self.video {
                poster.take(&filtered)?;
            }
            if let Some(retime) = &mut self.retime {
                let Some(tick) = retime.tick(filtered.pts(), self.enc_tb) else {
                    continue;
                };
                filtered.set_pts(tick);
                // The decoder marks the source's keyframes, and libvpx turns a frame marked so
                // into a forced keyframe: the encoder chooses its own, as the ffmpeg CLI lets it.
                filtered.set_kind(ff::picture::Type::None);
            }
            self.encoder
                .send_frame(&filtered)
                .map_err(ff_err("encoder"))?;
            sink.drain(self)?;
        }
        Ok(())
    }

    /// Feeds decoded frames to the filter graph. Returns how many frames were decoded.
    fn pump_decoder(&mut self, sink: &mut Sink, poster: &mut Poster) -> Result<u64, MediaError> {
        let mut n = 0;
        let mut decoded = frame::Video::empty();
        while self.decoder.receive_frame(&mut decoded).is_ok() {
            n += 1;
            let ts = decoded.timestamp();
            decoded.set_pts(ts);
            if let Some(mut src) = self.graph.get("in") {
                src.source().add(&decoded).map_err(ff_err("filter"))?;
            }
            self.pump_filter(sink, poster)?;
        }
        Ok(n)
    }

    fn finish(&mut self, sink: &mut Sink, poster: &mut Poster) -> Result<u64, MediaError> {
        // End-of-stream signals fail only when one was sent already; the drains below report
        // any real error.
        let _ = self.decoder.send_eof();
        let n = self.pump_decoder(sink, poster)?;
        if let Some(mut src) = self.graph.get("in") {
            let _ = src.source().flush();
        }
        self.pump_filter(sink, poster)?;
        let _ = self.encoder.send_eof();
        sink.drain(self)?;
        Ok(n)
    }
}

/// Transcodes `job.input` to WebM; see the module doc.
pub fn transcode(
    job: &Job,
    opts: &MediaSettings,
    progress: &mut Progress,
) -> Result<Processed, MediaError> {
    let deadline = Instant::now() + std::time::Duration::from_secs(opts.job_timeout_secs);
    let mut ictx = open_input(&job.input, deadline)?;
    let video = best_stream(&ictx, MediaType::Video);
    let audio = best_stream(&ictx, MediaType::Audio);
    if video.is_none() && audio.is_none() {
        return Err(MediaError::rejected("no audio or video found in this file"));
    }
    let kind = if video.is_some() {
        Kind::Video
    } else {
        Kind::Audio
    };
    let name = if video.is_some() {
        "video.webm"
    } else {
        "audio.webm"
    };
    let out_path = job.out_dir.join(name);
    let mut octx =
        format::output_as(&out_path, "webm").map_err(ff_err("cannot create the output"))?;
    let mut pipes = Vec::new();
    let mut size = (None, None);
    if let Some(v) = video {
        let (p, w, h) = video_pipe(&ictx, &mut octx, v, opts)?;
        size = (Some(w), Some(h));
        pipes.push(p);
    }
    if let Some(a) = audio {
        pipes.push(audio_pipe(&ictx, &mut octx, a, opts)?);
    }
    octx.write_header()
        .map_err(ff_err("cannot write the output"))?;
    let in_duration_ms = Some(ictx.duration()).filter(|d| *d > 0).map(|d| d / 1000);
    let mut poster = Poster {
        path: job.out_dir.join("poster.jpg"),
        edge: opts.thumb_edge,
        quality: opts.jpeg_quality,
        done: video.is_none(),
    };
    let mut sink = Sink {
        octx: &mut octx,
        bytes: 0,
        max_bytes: opts.max_output_bytes,
        end_ms: 0,
        packets: 0,
    };
    let mut decoded = 0u64;
    let mut bad_packets = 0u32;
    let mut packet = Packet::empty();
    loop {
        progress.check_time()?;
        match packet.read(&mut ictx) {
            Ok(()) => {}
            Err(ff::Error::Eof) => break,
            Err(ff::Error::Other {
                errno: ff::util::error::EAGAIN,
            }) => continue,
            Err(e) => return Err(MediaError::rejected(format!("the file is damaged: {e}"))),
        }
        let Some(pipe) = pipes.iter_mut().find(|p| p.input == packet.stream()) else {
            continue;
        };
        if let (Some(total), Some(pts), Some(s)) =
            (in_duration_ms, packet.pts(), ictx.stream(packet.stream()))
        {
            let tb = s.time_base();
            let ms = pts.saturating_mul(i64::from(tb.numerator()) * 1000)
                / i64::from(tb.denominator().max(1));
            progress.set(((ms.clamp(0, total) * 100) / total.max(1)) as u8);
        }
        if pipe.decoder.send_packet(&packet).is_err() {
            bad_packets += 1;
            if bad_packets > 100 {
                return Err(MediaError::rejected(
                    "the file is damaged: too many undecodable packets",
                ));
            }
            continue;
        }
        decoded += pipe.pump_decoder(&mut sink, &mut poster)?;
    }
    for pipe in &mut pipes {
        decoded += pipe.finish(&mut sink, &mut poster)?;
    }
    if decoded == 0 || sink.packets == 0 {
        return Err(MediaError::rejected(
            "the file is damaged: nothing could be decoded",
        ));
    }
    let duration_ms = sink.end_ms;
    octx.write_trailer()
        .map_err(ff_err("cannot finish the output"))?;
    drop(octx);
    let size_bytes = std::fs::metadata(&out_path)?.len();
    Ok(Processed {
        kind,
        mime: if kind == Kind::Video {
            "video/webm".into()
        } else {
            "audio/webm".into()
        },
        content: name.into(),
        thumb: (kind == Kind::Video && poster.path.exists()).then(|| "poster.jpg".into()),
        size: size_bytes,
        width: size.0,
        height: size.1,
        duration_ms: Some(duration_ms),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_keep_aspect_and_are_even() {
        assert_eq!(target_size(1920, 1080, 720), (1280, 720));
        assert_eq!(target_size(160, 120, 720), (160, 120));
        assert_eq!(target_size(161, 121, 720), (162, 122));
        assert_eq!(target_size(1080, 1920, 720), (406, 720));
        assert_eq!(target_size(100_000, 10, 720), (4096, 2));
    }

    #[test]
    fn playlists_are_not_allowed() {
        assert!(init());
        let list = allowed_demuxers();
        assert!(list.split(',').any(|n| n == "matroska"));
        assert!(!list.split(',').any(|n| n == "hls" || n == "concat"));
    }
}
