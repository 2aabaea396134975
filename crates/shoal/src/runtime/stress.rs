//! `shoal stress --cpu N --timeout S`: the lab's `stress`, for machines without it.

use std::time::Duration;

/// Burns `workers` CPUs for `timeout` (forever when zero), like `stress --cpu N`.
#[allow(clippy::disallowed_methods)] // a standalone CPU burner: std time is right here
pub fn run(workers: u32, timeout: Duration) {
    println!("stress: info: [{}] dispatching hogs: {workers} cpu", std::process::id());
    let deadline = (!timeout.is_zero()).then(|| std::time::Instant::now() + timeout);
    let threads: Vec<_> = (0..workers.max(1))
        .map(|_| {
            std::thread::spawn(move || {
                let mut x: u64 = 1;
                loop {
                    for _ in 0..100_000 {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    }
                    std::hint::black_box(x);
                    if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                        return;
                    }
                }
            })
        })
        .collect();
    for t in threads {
        let _ = t.join();
    }
    println!("stress: info: [{}] successful run completed", std::process::id());
}
