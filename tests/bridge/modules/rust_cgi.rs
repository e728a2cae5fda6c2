// A Wagi test module in Rust (std, Rust 1.63, wasm32-wasi).
use std::env;
use std::io::{self, Read, Write};

fn main() {
    let args: Vec<String> = env::args().collect();
    let cmd = args.get(1).map(|s| s.as_str()).unwrap_or("env");
    let out = io::stdout();
    let mut out = out.lock();
    match cmd {
        "echo" => {
            let mut body = Vec::new();
            io::stdin().read_to_end(&mut body).unwrap();
            write!(out, "Content-Type: application/octet-stream\n\n").unwrap();
            out.write_all(&body).unwrap();
        }
        "file" => {
            let path = args.get(2).cloned().unwrap_or_default();
            match std::fs::read(&path) {
                Ok(data) => {
                    write!(out, "Content-Type: application/octet-stream\n\n").unwrap();
                    out.write_all(&data).unwrap();
                }
                Err(e) => write!(out, "Status: 404\nContent-Type: text/plain\n\n{}: {}\n", path, e).unwrap(),
            }
        }
        "ls" => {
            write!(out, "Content-Type: text/plain\n\n").unwrap();
            let mut names: Vec<String> = std::fs::read_dir(args.get(2).map(|s| s.as_str()).unwrap_or("/"))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for n in names { writeln!(out, "{}", n).unwrap(); }
        }
        "sleep" => {
            let t0 = std::time::Instant::now();
            std::thread::sleep(std::time::Duration::from_millis(100));
            write!(out, "Content-Type: text/plain\n\nslept {} ms\n", t0.elapsed().as_millis()).unwrap();
        }
        "exit" => {
            write!(out, "Content-Type: text/plain\n\nbye\n").unwrap();
            out.flush().unwrap();
            std::process::exit(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(0));
        }
        "panic" => {
            write!(out, "Content-Type: text/plain\n\n").unwrap();
            panic!("on purpose");
        }
        _ => {
            write!(out, "Content-Type: text/plain\nX-Lang: rust\n\n").unwrap();
            for (i, a) in args.iter().enumerate() { writeln!(out, "argv[{}]={}", i, a).unwrap(); }
            for (k, v) in env::vars() { writeln!(out, "{}={}", k, v).unwrap(); }
            writeln!(out, "time={:?}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() > 0).unwrap();
        }
    }
}
