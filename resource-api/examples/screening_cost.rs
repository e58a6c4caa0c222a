//! What a unit of screening work costs in time, for names of every shape the limits allow.
//!
//!     cargo run --release -p resource-api --example screening_cost
//!
//! Screens 200 candidates of each shape (the most a screen scores) with
//! `domain::screening::screen` alone, no database and no HTTP, and prints per shape the work
//! counted, whether the budget ran out, the time of one screen (median of 31) and so the
//! nanoseconds per unit. The budget bounds a screen's time only as well as the units track the
//! time, so the figure should be about the same for every shape; docs/PERFORMANCE.md has the
//! results.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use resource_api::domain::screening::{screen, Candidate, Query, DEFAULT_THRESHOLD};

/// A fixed pseudo-random sequence, so that every run measures the same names.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

const SYLLABLES: [&str; 12] = [
    "ka", "ri", "mo", "na", "lu", "se", "ta", "bo", "di", "fe", "gu", "pa",
];

/// `words` words, each made of `syllables` syllables.
fn name(rng: &mut Lcg, words: usize, syllables: usize) -> String {
    (0..words)
        .map(|_| {
            (0..syllables)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// 200 candidates of a name and `aliases` aliases each, every name `make(rng)`.
fn candidates(
    rng: &mut Lcg,
    aliases: usize,
    make: impl Fn(&mut Lcg) -> String,
) -> Vec<Candidate<'static>> {
    (0..200)
        .map(|_| {
            let name = make(rng);
            let aliases: Vec<String> = (0..aliases).map(|_| make(rng)).collect();
            Candidate::new(&name, &aliases, None, None)
        })
        .collect()
}

fn measure(shape: &str, query: &str, candidates: &[Candidate]) {
    let query = Query {
        name: query,
        country: None,
        date_of_birth: None,
    };
    let never = AtomicBool::new(false);
    let run = || screen(&query, candidates, DEFAULT_THRESHOLD, 25, &never).expect("not cancelled");
    let screened = run();
    let mut times: Vec<f64> = (0..31)
        .map(|_| {
            let start = Instant::now();
            std::hint::black_box(run());
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "| {shape} | {} | {} | {:.2} | {:.2} |",
        screened.work,
        if screened.complete { "no" } else { "yes" },
        median * 1e3,
        median * 1e9 / screened.work as f64,
    );
}

fn main() {
    let mut rng = Lcg(7);
    let mut shapes: Vec<(&str, String, Vec<Candidate>)> = Vec::new();
    let normal = (0..200)
        .map(|i| Candidate::new(&format!("Mohammed Decoy{i:03}"), &[], None, None))
        .collect();
    shapes.push(("1 name of 2 words", "Mohammed Al Rashid".into(), normal));
    let aliased = (0..200)
        .map(|i| {
            let aliases: Vec<String> = (0..20)
                .map(|j| format!("Alexandr Petrovich Ivanov{i}x{j}"))
                .collect();
            Candidate::new(&format!("Alexander Petrov {i}"), &aliases, None, None)
        })
        .collect();
    shapes.push((
        "21 names of 3 words",
        "Alexandr Petrovich Ivanov7x19".into(),
        aliased,
    ));
    for (shape, words, syllables) in [
        ("21 names of 66 two-letter words (the attack)", 66, 1),
        ("21 names of 40 four-letter words", 40, 2),
        ("21 names of 8 twenty-four-letter words", 8, 12),
        ("21 names of one 200-letter word", 1, 100),
    ] {
        let c = candidates(&mut rng, 20, |r| name(r, words, syllables));
        shapes.push((shape, name(&mut rng, words, syllables), c));
    }

    // ONLY=n: the n-th shape's screen once, nothing else (for an instruction count under
    // `valgrind --tool=callgrind --toggle-collect='*screen_within*'`).
    if let Ok(only) = std::env::var("ONLY") {
        let (shape, query, candidates) = &shapes[only.parse::<usize>().expect("ONLY=n")];
        let query = Query {
            name: query,
            country: None,
            date_of_birth: None,
        };
        let never = AtomicBool::new(false);
        let screened = screen(&query, candidates, DEFAULT_THRESHOLD, 25, &never);
        println!("{shape}: {} units", screened.expect("not cancelled").work);
        return;
    }
    println!("| 200 candidates of | work units | budget ran out | ms per screen | ns per unit |");
    println!("|---|---|---|---|---|");
    for (shape, query, candidates) in &shapes {
        measure(shape, query, candidates);
    }
}
