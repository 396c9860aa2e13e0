//! `parley-event-latency`: measures how long events take from their write to a consumer.
//!
//! `receive --listen ADDR --seconds N`: a webhook receiver answering 200; prints the count and
//! p50/p99 of (arrival time - event createdAt) when the time is up.
//! `stream --url URL --key KEY --seconds N`: reads an SSE event stream; prints the same.
//! `createdAt` is taken by the server just before the write's transaction, so the figure is
//! from write to consumer, commit included.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    Receive {
        #[arg(long)]
        listen: String,
        #[arg(long)]
        seconds: u64,
    },
    Stream {
        /// http://host:port/v1/{app}/events/stream
        #[arg(long)]
        url: String,
        #[arg(long)]
        key: String,
        #[arg(long)]
        seconds: u64,
    },
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0))
}

fn created_at(json: &str) -> Option<i64> {
    let rest = json.split("\"createdAt\":").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn report(name: &str, mut samples: Vec<i64>) {
    samples.sort_unstable();
    let at = |q: f64| {
        if samples.is_empty() {
            return 0;
        }
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i]
    };
    println!(
        "{name}: events={} p50={}ms p99={}ms max={}ms",
        samples.len(),
        at(0.5),
        at(0.99),
        samples.last().copied().unwrap_or(0)
    );
}

fn receive(listen: &str, seconds: u64) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)?;
    let samples = Arc::new(Mutex::new(Vec::new()));
    let inner = samples.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let inner = inner.clone();
            std::thread::spawn(move || serve(stream, &inner));
        }
    });
    std::thread::sleep(Duration::from_secs(seconds));
    let taken = std::mem::take(&mut *samples.lock().expect("samples"));
    report("webhook", taken);
    Ok(())
}

fn serve(stream: TcpStream, samples: &Mutex<Vec<i64>>) {
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            if h == "\r\n" {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Some(at) = created_at(&String::from_utf8_lossy(&body)) {
            samples.lock().expect("samples").push(now_ms() - at);
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

fn stream(url: &str, key: &str, seconds: u64) -> anyhow::Result<()> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| anyhow::anyhow!("http:// URLs only"))?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    let mut conn = TcpStream::connect(host)?;
    conn.set_read_timeout(Some(Duration::from_millis(500)))?;
    write!(
        conn,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n\r\n"
    )?;
    let mut reader = BufReader::new(conn);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut samples = Vec::new();
    let mut line = String::new();
    while Instant::now() < deadline {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => break,
            Ok(_) => {
                if let Some(data) = line.strip_prefix("data: ") {
                    if let Some(at) = created_at(data) {
                        samples.push(now_ms() - at);
                    }
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => return Err(e.into()),
        }
    }
    report("stream", samples);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().mode {
        Mode::Receive { listen, seconds } => receive(&listen, seconds),
        Mode::Stream { url, key, seconds } => stream(&url, &key, seconds),
    }
}
