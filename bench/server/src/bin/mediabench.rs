//! `mediabench`: the media numbers of `make bench-media` (issue 21), against the command-line
//! tools doing the same work, on this machine, in one run.
//!
//!     mediabench --work DIR --out results.json [--video-runs 1] [--image-runs 3]
//!
//! - Clips made at the start with the ffmpeg CLI (720p and 1080p, 10 s, H.264 + AAC in MP4,
//!   `testsrc2` with light temporal noise, about phone bitrates so the encoder has detail to spend bits on) are transcoded
//!   by the MediaWorker's own function (`chat_server::media::process`, in this process) and by
//!   the `ffmpeg` CLI with the same settings read from the server's code (`MediaSettings`'s
//!   defaults, `media::av::{VP8_CRF, VP8_DEADLINE, SCALE_FLAGS}`, the same output size, one
//!   thread for decoding and encoding as the worker uses). Wall time, CPU seconds (this process's,
//!   or the children's from /proc/self/stat), output size, and SSIM of each output against the
//!   source (ffmpeg's `ssim` filter, the source scaled to the output size).
//! - 12 MP photos (JPEG and PNG, made with the ffmpeg CLI) scaled to `image_max_edge` and
//!   re-encoded with a `thumb_edge` thumbnail (JPEG, `jpeg_quality`) by our code, `vipsthumbnail`
//!   and ImageMagick `convert`: images per second, and per CPU second (per core).
//! - A 60 s voice note (AAC in M4A) to Opus WebM: seconds of audio per second.
//!
//! Writes the results as JSON. `mediabench --report` then renders them, with the dm runs of
//! `scripts/bench-media.sh` (ack latency with and without a transcode load), into the section
//! `media` of BENCHMARKS.md.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use bench::procfs;
use chat_server::config::MediaSettings;
use chat_server::media::{self, av, Job};
use clap::Parser;
use serde_json::{json, Value};

#[derive(Parser)]
struct Cli {
    /// Scratch folder for inputs and outputs.
    #[arg(long)]
    work: PathBuf,
    /// Where the results go (JSON); with `--report`, the results to render.
    #[arg(long)]
    out: PathBuf,
    /// Render `--out`'s results into this Markdown file's `media` section instead of measuring.
    #[arg(long)]
    report: Option<PathBuf>,
    /// With `--report`: loadgen's dm results without and with the transcode load.
    #[arg(long)]
    dm_idle: Option<PathBuf>,
    #[arg(long)]
    dm_load: Option<PathBuf>,
    /// With `--report`: a note on the dm runs (load, settings).
    #[arg(long, default_value = "")]
    dm_note: String,
    /// With `--report`: the command that made the numbers.
    #[arg(long, default_value = "make bench-media")]
    command: String,
    /// Transcodes of each clip by each side (the fastest counts).
    #[arg(long, default_value_t = 1)]
    video_runs: usize,
    /// Runs of each photo by each side.
    #[arg(long, default_value_t = 3)]
    image_runs: usize,
    /// Encoder and decoder threads of the ffmpeg CLI (default: what the worker uses, 1).
    #[arg(long, default_value_t = 1)]
    cli_threads: u32,
    /// Also run the ffmpeg CLI with its own thread default (auto), for reference.
    #[arg(long)]
    cli_auto_threads: bool,
    /// Only these parts (video, images, voice); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

impl Cli {
    fn runs(&self, part: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|p| p == part)
    }
}

/// Wall and CPU seconds of one piece of work.
#[derive(Clone, Copy, Debug)]
struct Timing {
    wall: f64,
    cpu: f64,
}

fn self_cpu() -> f64 {
    procfs::cpu_secs("self").unwrap_or(0.0)
}

/// Runs `f` in this process, timed.
fn ours<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Timing)> {
    let (c0, t0) = (self_cpu(), Instant::now());
    let out = f()?;
    Ok((
        out,
        Timing {
            wall: t0.elapsed().as_secs_f64(),
            cpu: self_cpu() - c0,
        },
    ))
}

/// Runs a command to completion, timed (CPU of the waited-for child).
fn child(cmd: &mut Command) -> Result<Timing> {
    let (c0, t0) = (procfs::children_cpu_secs().unwrap_or(0.0), Instant::now());
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    let t = Timing {
        wall: t0.elapsed().as_secs_f64(),
        cpu: procfs::children_cpu_secs().unwrap_or(0.0) - c0,
    };
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .rev()
                .take(5)
                .collect::<Vec<_>>()
                .join(" | ")
        );
    }
    Ok(t)
}

fn ffmpeg() -> Command {
    let mut c = Command::new("ffmpeg");
    c.args(["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]);
    c
}

/// Makes the inputs with the ffmpeg CLI.
fn make_inputs(work: &Path) -> Result<()> {
    for (name, size) in [("clip720.mp4", "1280x720"), ("clip1080.mp4", "1920x1080")] {
        let path = work.join(name);
        if path.exists() {
            continue;
        }
        eprintln!("mediabench: making {name}");
        child(
            ffmpeg()
                .args([
                    "-f",
                    "lavfi",
                    "-i",
                    &format!("testsrc2=size={size}:rate=30,noise=alls=4:allf=t"),
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=330:sample_rate=48000",
                    "-t",
                    "10",
                    "-c:v",
                    "libx264",
                    "-preset",
                    "medium",
                    "-crf",
                    "20",
                    "-pix_fmt",
                    "yuv420p",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "128k",
                    "-ac",
                    "2",
                    "-movflags",
                    "+faststart",
                ])
                .arg(&path),
        )?;
    }
    for name in ["photo.jpg", "photo.png"] {
        let path = work.join(name);
        if path.exists() {
            continue;
        }
        eprintln!("mediabench: making {name}");
        let mut cmd = ffmpeg();
        cmd.args([
            "-f",
            "lavfi",
            "-i",
            "gradients=size=4000x3000:nb_colors=5:seed=7,noise=alls=6:allf=u:all_seed=7,format=rgb24",
            "-frames:v",
            "1",
        ]);
        // Like a phone's JPEG: 4:2:0 at high quality.
        if name.ends_with(".jpg") {
            cmd.args(["-pix_fmt", "yuvj420p", "-q:v", "3"]);
        }
        child(cmd.arg(&path))?;
    }
    let voice = work.join("voice.m4a");
    if !voice.exists() {
        eprintln!("mediabench: making voice.m4a");
        child(
            ffmpeg()
                .args([
                    "-f",
                    "lavfi",
                    "-i",
                    "sine=frequency=180:duration=60:sample_rate=44100",
                    "-f",
                    "lavfi",
                    "-i",
                    "anoisesrc=duration=60:color=pink:amplitude=0.15:sample_rate=44100",
                    "-filter_complex",
                    "amix=inputs=2",
                    "-c:a",
                    "aac",
                    "-b:a",
                    "64k",
                    "-ac",
                    "1",
                ])
                .arg(&voice),
        )?;
    }
    Ok(())
}

/// Runs the worker's function on a copy of `input` in a fresh folder; returns what it made.
fn run_ours(input: &Path, dir: &Path, opts: &MediaSettings) -> Result<(media::Processed, Timing)> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    let copy = dir.join("upload");
    std::fs::copy(input, &copy)?;
    let head = std::fs::read(&copy)?;
    let sniffed = media::sniff_bytes(&head[..head.len().min(8192)]);
    let job = Job {
        input: copy,
        out_dir: dir.to_owned(),
        sniffed,
        avatar: false,
    };
    ours(|| media::process(&job, opts, &mut |_| {}).map_err(anyhow::Error::from))
}

/// `(width, height)` of the first video stream.
fn video_size(path: &Path) -> Result<(u32, u32)> {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0:s=x",
        ])
        .arg(path)
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let (w, h) = text.trim().split_once('x').context("ffprobe: no size")?;
    Ok((w.parse()?, h.parse()?))
}

/// SSIM (all planes) of `output` against `source` scaled to the output's size.
fn ssim(output: &Path, source: &Path) -> Result<f64> {
    let (w, h) = video_size(output)?;
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-i"])
        .arg(output)
        .arg("-i")
        .arg(source)
        .args([
            "-lavfi",
            &format!(
                "[1:v]scale={w}:{h}:flags=bicubic,setsar=1,format=yuv420p[ref];[0:v]setsar=1,format=yuv420p[dist];[dist][ref]ssim"
            ),
            "-f",
            "null",
            "-",
        ])
        .output()?;
    let text = String::from_utf8_lossy(&out.stderr);
    text.lines()
        .rev()
        .find_map(|l| l.split("All:").nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no SSIM in ffmpeg's output: {text}"))
}

fn timing_json(t: Timing) -> Value {
    json!({"wall_s": t.wall, "cpu_s": t.cpu})
}

fn fastest(runs: &[Timing]) -> Timing {
    runs.iter()
        .copied()
        .min_by(|a, b| a.wall.total_cmp(&b.wall))
        .unwrap_or(Timing {
            wall: 0.0,
            cpu: 0.0,
        })
}

/// The ffmpeg CLI command equal to the worker's transcode of `input`.
fn cli_transcode(
    input: &Path,
    output: &Path,
    opts: &MediaSettings,
    threads: Option<u32>,
) -> Result<Command> {
    let (w, h) = video_size(input)?;
    let (ow, oh) = av::target_size(w, h, opts.video_max_height);
    let mut c = ffmpeg();
    if let Some(t) = threads {
        c.args(["-threads", &t.to_string()]);
    }
    c.arg("-i").arg(input).args([
        "-map",
        "0:v:0",
        "-map",
        "0:a:0",
        "-vf",
        &format!(
            "scale={ow}:{oh}:flags={},setsar=1,format=yuv420p",
            av::SCALE_FLAGS
        ),
        "-c:v",
        "libvpx",
        "-b:v",
        &format!("{}k", opts.video_bitrate_kbps),
        "-crf",
        &av::VP8_CRF.to_string(),
        "-deadline",
        av::VP8_DEADLINE,
        "-cpu-used",
        &opts.video_cpu_used.to_string(),
    ]);
    if let Some(t) = threads {
        c.args(["-threads", &t.to_string()]);
    }
    c.args([
        "-c:a",
        "libopus",
        "-b:a",
        &format!("{}k", opts.audio_bitrate_kbps),
        "-ar",
        "48000",
        "-ac",
        "2",
        "-f",
        "webm",
    ])
    .arg(output);
    Ok(c)
}

fn video(cli: &Cli, opts: &MediaSettings) -> Result<Value> {
    let mut rows = Vec::new();
    for clip in ["clip720.mp4", "clip1080.mp4"] {
        let src = cli.work.join(clip);
        let dir = cli.work.join(format!("ours-{clip}"));
        let mut runs = Vec::new();
        let mut made = None;
        for _ in 0..cli.video_runs.max(1) {
            eprintln!("mediabench: {clip}: our transcode");
            let (p, t) = run_ours(&src, &dir, opts)?;
            runs.push(t);
            made = Some(p);
        }
        let made = made.context("no run")?;
        let ours_out = dir.join(&made.content);
        let ours_t = fastest(&runs);
        let mut sides = vec![json!({
            "side": "ours",
            "threads": 1,
            "timing": timing_json(ours_t),
            "bytes": std::fs::metadata(&ours_out)?.len(),
            "ssim": ssim(&ours_out, &src)?,
            "size": format!("{}x{}", made.width.unwrap_or(0), made.height.unwrap_or(0)),
        })];
        let mut variants = vec![("ffmpeg CLI", Some(cli.cli_threads))];
        if cli.cli_auto_threads {
            variants.push(("ffmpeg CLI, threads auto", None));
        }
        for (label, threads) in variants {
            let out = cli.work.join(format!(
                "cli-{}-{clip}.webm",
                threads.map_or("auto".into(), |t| t.to_string())
            ));
            let mut runs = Vec::new();
            for _ in 0..cli.video_runs.max(1) {
                eprintln!("mediabench: {clip}: {label}");
                runs.push(child(&mut cli_transcode(&src, &out, opts, threads)?)?);
            }
            let (w, h) = video_size(&out)?;
            sides.push(json!({
                "side": label,
                "threads": threads.map_or(Value::from("auto"), Value::from),
                "timing": timing_json(fastest(&runs)),
                "bytes": std::fs::metadata(&out)?.len(),
                "ssim": ssim(&out, &src)?,
                "size": format!("{w}x{h}"),
                "command": format!("{:?}", cli_transcode(&src, &out, opts, threads)?).replace('"', ""),
            }));
        }
        rows.push(
            json!({"clip": clip, "source_bytes": std::fs::metadata(&src)?.len(), "sides": sides}),
        );
    }
    Ok(Value::Array(rows))
}

fn images(cli: &Cli, opts: &MediaSettings) -> Result<Value> {
    let mut rows = Vec::new();
    let edge = opts.image_max_edge;
    let thumb = opts.thumb_edge;
    let q = opts.jpeg_quality;
    for photo in ["photo.jpg", "photo.png"] {
        let src = cli.work.join(photo);
        let n = cli.image_runs.max(1);
        let mut sides = Vec::new();
        let dir = cli.work.join(format!("ours-{photo}"));
        let mut total = Timing {
            wall: 0.0,
            cpu: 0.0,
        };
        let mut bytes = 0;
        for _ in 0..n {
            let (p, t) = run_ours(&src, &dir, opts)?;
            total.wall += t.wall;
            total.cpu += t.cpu;
            bytes = p.size;
        }
        eprintln!(
            "mediabench: {photo}: ours {:.2} s/image",
            total.wall / n as f64
        );
        sides.push(json!({"side": "ours (image crate)", "runs": n, "timing": timing_json(total), "bytes": bytes}));

        let big = cli.work.join("vips-big.jpg");
        let small = cli.work.join("vips-thumb.jpg");
        let mut total = Timing {
            wall: 0.0,
            cpu: 0.0,
        };
        for _ in 0..n {
            let a = child(
                Command::new("vipsthumbnail")
                    .arg(&src)
                    .args(["--size", &format!("{edge}x{edge}>"), "-o"])
                    .arg(format!("{}[Q={q},strip]", big.display())),
            )?;
            let b = child(
                Command::new("vipsthumbnail")
                    .arg(&big)
                    .args(["--size", &format!("{thumb}x{thumb}>"), "-o"])
                    .arg(format!("{}[Q={q},strip]", small.display())),
            )?;
            total.wall += a.wall + b.wall;
            total.cpu += a.cpu + b.cpu;
        }
        eprintln!(
            "mediabench: {photo}: vipsthumbnail {:.2} s/image",
            total.wall / n as f64
        );
        sides.push(json!({"side": "vipsthumbnail (libvips 8.14)", "runs": n, "timing": timing_json(total), "bytes": std::fs::metadata(&big)?.len(),
            "command": format!("vipsthumbnail IN --size {edge}x{edge}> -o big.jpg[Q={q},strip]; vipsthumbnail big.jpg --size {thumb}x{thumb}> -o thumb.jpg[Q={q},strip]")}));

        let big = cli.work.join("im-big.jpg");
        let small = cli.work.join("im-thumb.jpg");
        let mut total = Timing {
            wall: 0.0,
            cpu: 0.0,
        };
        for _ in 0..n {
            let t = child(
                Command::new("convert")
                    .arg(&src)
                    .args([
                        "-auto-orient",
                        "-resize",
                        &format!("{edge}x{edge}>"),
                        "-strip",
                        "-quality",
                        &q.to_string(),
                        "-write",
                    ])
                    .arg(&big)
                    .args(["-resize", &format!("{thumb}x{thumb}>")])
                    .arg(&small),
            )?;
            total.wall += t.wall;
            total.cpu += t.cpu;
        }
        eprintln!(
            "mediabench: {photo}: ImageMagick {:.2} s/image",
            total.wall / n as f64
        );
        sides.push(json!({"side": "ImageMagick 6.9 convert", "runs": n, "timing": timing_json(total), "bytes": std::fs::metadata(&big)?.len(),
            "command": format!("convert IN -auto-orient -resize {edge}x{edge}> -strip -quality {q} -write big.jpg -resize {thumb}x{thumb}> thumb.jpg")}));
        rows.push(json!({"photo": photo, "pixels": "4000x3000", "source_bytes": std::fs::metadata(&src)?.len(), "sides": sides}));
    }
    Ok(Value::Array(rows))
}

fn voice(cli: &Cli, opts: &MediaSettings) -> Result<Value> {
    let src = cli.work.join("voice.m4a");
    let dir = cli.work.join("ours-voice");
    let (p, t) = run_ours(&src, &dir, opts)?;
    let out = cli.work.join("cli-voice.webm");
    let c = child(
        ffmpeg()
            .args(["-threads", "1", "-i"])
            .arg(&src)
            .args([
                "-vn",
                "-c:a",
                "libopus",
                "-b:a",
                &format!("{}k", opts.audio_bitrate_kbps),
                "-ar",
                "48000",
                "-ac",
                "1",
                "-f",
                "webm",
            ])
            .arg(&out),
    )?;
    let secs = p.duration_ms.unwrap_or(0) as f64 / 1000.0;
    Ok(json!({
        "audio_s": secs,
        "ours": {"timing": timing_json(t), "bytes": p.size},
        "cli": {"timing": timing_json(c), "bytes": std::fs::metadata(&out)?.len()},
    }))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if let Some(md) = &cli.report {
        return report::write(&cli, md);
    }
    std::fs::create_dir_all(&cli.work)?;
    if !av::init() {
        bail!("FFmpeg cannot be initialised");
    }
    make_inputs(&cli.work)?;
    let opts = MediaSettings::default();
    let settings = json!({
        "video_max_height": opts.video_max_height,
        "video_bitrate_kbps": opts.video_bitrate_kbps,
        "video_cpu_used": opts.video_cpu_used,
        "vp8_crf": av::VP8_CRF,
        "vp8_deadline": av::VP8_DEADLINE,
        "scale_flags": av::SCALE_FLAGS,
        "audio_bitrate_kbps": opts.audio_bitrate_kbps,
        "image_max_edge": opts.image_max_edge,
        "thumb_edge": opts.thumb_edge,
        "jpeg_quality": opts.jpeg_quality,
    });
    let results = json!({
        "settings": settings,
        "video": if cli.runs("video") { video(&cli, &opts)? } else { Value::Null },
        "images": if cli.runs("images") { images(&cli, &opts)? } else { Value::Null },
        "voice": if cli.runs("voice") { voice(&cli, &opts)? } else { Value::Null },
    });
    std::fs::write(&cli.out, serde_json::to_string_pretty(&results)?)?;
    eprintln!("mediabench: wrote {}", cli.out.display());
    Ok(())
}

/// The `media` section of BENCHMARKS.md.
mod report {
    use std::fmt::Write as _;
    use std::path::Path;

    use anyhow::{Context, Result};
    use serde_json::Value;

    use super::Cli;

    const BEGIN: &str = "<!-- section:media -->";
    const END: &str = "<!-- /section:media -->";

    fn f(v: &Value) -> f64 {
        v.as_f64().unwrap_or(f64::NAN)
    }

    fn load(path: &Path) -> Result<Value> {
        let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }

    fn uname() -> String {
        std::process::Command::new("uname")
            .arg("-srm")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }

    fn loadavg() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
            .unwrap_or_default()
    }

    pub fn write(cli: &Cli, md_path: &Path) -> Result<()> {
        let r = load(&cli.out)?;
        let s = &r["settings"];
        let mut md = String::new();
        writeln!(md, "{BEGIN}")?;
        writeln!(md, "## Media (issue 21)\n")?;
        writeln!(
            md,
            "Measured by `{}` on {} ({}), load average at the end (1, 5, 15 min) {}: a shared 2-core machine with \
             other builds running, so wall times are noisy; CPU seconds are the steadier figure. Inputs are made \
             by the ffmpeg CLI at the start of the run (`bench/src/bin/mediabench.rs` says how).\n",
            cli.command,
            chrono_now(),
            uname(),
            loadavg()
        )?;
        writeln!(
            md,
            "### Video: the MediaWorker's transcode against the `ffmpeg` CLI\n"
        )?;
        writeln!(
            md,
            "10 s clips, H.264 + AAC in MP4 (`testsrc2` with light temporal noise, 30 fps), to WebM VP8 + Opus with the \
             server's settings: at most {} px high (scale flags `{}`), VP8 constrained quality crf {} capped at {} kbit/s, \
             deadline `{}`, cpu-used {}, Opus {} kbit/s, one thread for decoding and encoding (what the worker uses: a \
             pool of one worker per core). \"ours\" is `chat_server::media::process`, the function the MediaWorker \
             calls (it also writes the poster JPEG); the CLI runs with the same settings. SSIM: ffmpeg's `ssim` filter, \
             output against the source scaled to the output size (1 = identical).\n",
            s["video_max_height"], s["scale_flags"].as_str().unwrap_or("?"), s["vp8_crf"], s["video_bitrate_kbps"],
            s["vp8_deadline"].as_str().unwrap_or("?"), s["video_cpu_used"], s["audio_bitrate_kbps"]
        )?;
        writeln!(
            md,
            "| clip | side | threads | wall s | CPU s | output | SSIM | speed vs CLI (CPU) |"
        )?;
        writeln!(md, "|---|---|---|---|---|---|---|---|")?;
        let mut cli_cmd = String::new();
        for clip in r["video"].as_array().into_iter().flatten() {
            let sides = clip["sides"].as_array().cloned().unwrap_or_default();
            let cli_cpu = sides
                .iter()
                .find(|x| x["side"] == "ffmpeg CLI")
                .map(|x| f(&x["timing"]["cpu_s"]))
                .unwrap_or(f64::NAN);
            for x in &sides {
                let cpu = f(&x["timing"]["cpu_s"]);
                writeln!(
                    md,
                    "| {} ({:.1} MB) | {} | {} | {:.1} | {:.1} | {:.2} MB, {} | {:.4} | {:.2}× |",
                    clip["clip"].as_str().unwrap_or("?"),
                    f(&clip["source_bytes"]) / 1e6,
                    x["side"].as_str().unwrap_or("?"),
                    x["threads"]
                        .as_str()
                        .map_or_else(|| x["threads"].to_string(), str::to_owned),
                    f(&x["timing"]["wall_s"]),
                    cpu,
                    f(&x["bytes"]) / 1e6,
                    x["size"].as_str().unwrap_or("?"),
                    f(&x["ssim"]),
                    cli_cpu / cpu
                )?;
                if x["side"] == "ffmpeg CLI" {
                    cli_cmd = x["command"].as_str().unwrap_or("").to_owned();
                }
            }
        }
        let work = cli.work.display().to_string();
        writeln!(
            md,
            "\nThe CLI command (1080p clip; `$WORK` is the run's scratch folder): `{}`\n",
            cli_cmd.replace('`', "").replace(&work, "$WORK")
        )?;

        writeln!(md, "### Photos: scaled, re-encoded and thumbnailed\n")?;
        writeln!(
            md,
            "4000×3000 (12 MP) photos (gradients plus noise) scaled to fit {} px and re-encoded as JPEG quality {}, plus \
             a {} px thumbnail made from that, metadata stripped. Ours: the image pipeline of the MediaWorker \
             (image crate decoding and JPEG encoding, Lanczos3 through FFmpeg's swscale). libvips: two `vipsthumbnail` runs (it shrinks JPEGs while \
             decoding). ImageMagick: one `convert` writing both. HEIC is left out: neither the image crate nor \
             Debian's ImageMagick build here reads it. Images per CPU second is images per second per core.\n",
            s["image_max_edge"], s["jpeg_quality"], s["thumb_edge"]
        )?;
        writeln!(md, "| photo | side | runs | wall s / image | CPU s / image | images / s per core | vs ImageMagick | vs libvips | output |")?;
        writeln!(md, "|---|---|---|---|---|---|---|---|---|")?;
        for photo in r["images"].as_array().into_iter().flatten() {
            let sides = photo["sides"].as_array().cloned().unwrap_or_default();
            let per_core = |x: &Value| f(&x["runs"]) / f(&x["timing"]["cpu_s"]);
            let of = |prefix: &str| {
                sides
                    .iter()
                    .find(|x| x["side"].as_str().is_some_and(|n| n.starts_with(prefix)))
                    .map(per_core)
                    .unwrap_or(f64::NAN)
            };
            let (im, vips) = (of("ImageMagick"), of("vips"));
            for x in &sides {
                let n = f(&x["runs"]);
                writeln!(
                    md,
                    "| {} ({:.1} MB) | {} | {} | {:.2} | {:.2} | {:.2} | {:.2}× | {:.2}× | {:.2} MB |",
                    photo["photo"].as_str().unwrap_or("?"),
                    f(&photo["source_bytes"]) / 1e6,
                    x["side"].as_str().unwrap_or("?"),
                    n,
                    f(&x["timing"]["wall_s"]) / n,
                    f(&x["timing"]["cpu_s"]) / n,
                    per_core(x),
                    per_core(x) / im,
                    per_core(x) / vips,
                    f(&x["bytes"]) / 1e6
                )?;
            }
        }
        let v = &r["voice"];
        let secs = f(&v["audio_s"]);
        writeln!(md, "\n### Voice notes\n")?;
        writeln!(
            md,
            "A {secs:.0} s voice note (mono AAC in M4A) to Opus WebM at {} kbit/s: ours {:.2} s wall ({:.2} CPU s), \
             **{:.0} s of audio per second**; the ffmpeg CLI {:.2} s wall ({:.2} CPU s), {:.0} s of audio per second.\n",
            s["audio_bitrate_kbps"],
            f(&v["ours"]["timing"]["wall_s"]),
            f(&v["ours"]["timing"]["cpu_s"]),
            secs / f(&v["ours"]["timing"]["wall_s"]),
            f(&v["cli"]["timing"]["wall_s"]),
            f(&v["cli"]["timing"]["cpu_s"]),
            secs / f(&v["cli"]["timing"]["wall_s"]),
        )?;
        writeln!(md, "### Dm acks with and without a transcode load\n")?;
        match (&cli.dm_idle, &cli.dm_load) {
            (Some(idle), Some(busy)) => {
                let (i, b) = (load(idle)?, load(busy)?);
                writeln!(md, "{}\n", cli.dm_note)?;
                writeln!(md, "| | acked/s | ack p50 ms | ack p99 ms | delivery p99 ms | server cores | errors |")?;
                writeln!(md, "|---|---|---|---|---|---|---|")?;
                for (label, x) in [("idle", &i), ("while transcoding", &b)] {
                    writeln!(
                        md,
                        "| {label} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} |",
                        f(&x["acked_per_sec"]),
                        f(&x["ack"]["p50_ms"]),
                        f(&x["ack"]["p99_ms"]),
                        f(&x["delivery"]["p99_ms"]),
                        f(&x["server_cores"]),
                        x["errors"]
                    )?;
                }
                writeln!(
                    md,
                    "\nAck p99 under the transcode load: {:.2}× the idle p99 (goal: at most 2×).",
                    f(&b["ack"]["p99_ms"]) / f(&i["ack"]["p99_ms"])
                )?;
            }
            _ => writeln!(md, "Not measured in this run.")?,
        }
        write!(md, "{END}")?;

        let text = std::fs::read_to_string(md_path).unwrap_or_default();
        let text = match (text.find(BEGIN), text.find(END)) {
            (Some(a), Some(b)) if b > a => format!("{}{md}{}", &text[..a], &text[b + END.len()..]),
            _ => match text.find("\n## Analysis") {
                Some(at) => format!("{}\n{md}\n{}", &text[..at], &text[at..]),
                None => format!("{}\n\n{md}\n", text.trim_end()),
            },
        };
        std::fs::write(md_path, text)?;
        eprintln!("mediabench: updated {}", md_path.display());
        Ok(())
    }

    fn chrono_now() -> String {
        std::process::Command::new("date")
            .args(["-u", "+%Y-%m-%d %H:%M UTC"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}
