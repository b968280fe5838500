// Rust's standard library as a static program (LLVM's code generation, where the C tests have GCC's): start-up that
// polls the standard descriptors, sorting, hash and B-tree maps, floating point, strings, 128-bit integers, a panic
// unwound and caught, and threads with a mutex, a channel and a panic of their own. The panic hook prints without the
// thread id, which differs between the runs.
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;

fn main() {
    std::panic::set_hook(Box::new(|info| eprintln!("panic hook: {}", info)));
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut values: Vec<u64> = (0..200_000).map(|_| next() % 1_000_000).collect();
    values.sort_unstable();
    let mut counts: HashMap<u64, u32> = HashMap::new();
    for x in &values {
        *counts.entry(x % 1000).or_insert(0) += 1;
    }
    let ordered: BTreeMap<u64, u32> = counts.into_iter().collect();
    let mut line = String::new();
    for (k, c) in ordered.iter().take(5) {
        write!(line, "{}:{} ", k, c).unwrap();
    }
    println!("{}", line.trim_end());
    let waves: Vec<f64> = values.iter().take(1000).map(|&x| (x as f64).sqrt().sin()).collect();
    println!("{:.12} {:e}", waves.iter().sum::<f64>(), waves.iter().cloned().fold(f64::MIN, f64::max));
    let text: String = (0..10000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
    println!("{} {}", text.matches("xyz").count(), text.to_uppercase().chars().rev().take(10).collect::<String>());
    let index = unsafe { std::ptr::read_volatile(&5usize) };
    let caught = std::panic::catch_unwind(|| {
        let one = vec![1];
        one[index]
    });
    println!("panic caught: {}", caught.is_err());
    let wide = (next() as u128) * (next() as u128);
    println!("{:x} {}", wide, wide % 1_000_000_007);

    let total = Arc::new(Mutex::new(0u64));
    let (sender, receiver) = mpsc::channel();
    let workers: Vec<_> = (0..8u64)
        .map(|i| {
            let total = Arc::clone(&total);
            let sender = sender.clone();
            thread::spawn(move || {
                for _ in 0..10_000 {
                    *total.lock().unwrap() += 1;
                }
                sender.send(i * i).unwrap();
                (0..100_000u64).map(|x| x * i).sum::<u64>()
            })
        })
        .collect();
    drop(sender);
    let sums: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    let mut received: Vec<u64> = receiver.iter().collect();
    received.sort();
    let panicked = thread::spawn(|| panic!("boom in a thread")).join().is_err();
    println!("threads: {} {} {:?} panicked {}", *total.lock().unwrap(), sums, received, panicked);
}
