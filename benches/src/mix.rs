//! Key choice for the mixed (YCSB-like) workloads: a scrambled zipfian distribution,
//! as YCSB's default request distribution, precomputed into a fixed sequence so every
//! subject sees exactly the same requests and no random number is drawn while timing.

/// YCSB's default zipfian constant.
pub const THETA: f64 = 0.99;

/// Length of a precomputed request sequence.
pub const SEQUENCE_LEN: usize = 1 << 16;

/// A deterministic xorshift64 generator.
#[derive(Clone, Debug)]
pub struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (zero is replaced by a fixed non-zero seed).
    pub fn new(seed: u64) -> Self {
        XorShift(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Draws ranks `0..n` with probability proportional to `1 / (rank + 1)^theta`, then
/// scrambles each rank to a key index with a bijection so the hot keys are spread over
/// the key space (not all at its start).
pub struct Zipf {
    cdf: Vec<f64>,
    n: usize,
}

/// A prime multiplier: `rank * SCRAMBLE mod n` is a bijection for every `n` it does not divide.
const SCRAMBLE: u64 = 2_654_435_761;

impl Zipf {
    /// The distribution over `n > 0` keys.
    pub fn new(n: usize, theta: f64) -> Self {
        let mut total = 0.0;
        let cdf = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(theta);
                total
            })
            .collect::<Vec<_>>();
        let cdf = cdf.into_iter().map(|c| c / total).collect();
        Zipf { cdf, n }
    }

    /// The most popular rank is 0; this is the rank drawn for uniform `u` in `[0, 1)`.
    pub fn rank(&self, u: f64) -> usize {
        self.cdf.partition_point(|&c| c <= u).min(self.n - 1)
    }

    /// The key index of `rank`.
    pub fn key_of(&self, rank: usize) -> usize {
        ((rank as u64).wrapping_mul(SCRAMBLE) % self.n as u64) as usize
    }

    /// A key index drawn from the distribution.
    pub fn sample(&self, rng: &mut XorShift) -> usize {
        self.key_of(self.rank(rng.next_f64()))
    }
}

/// A precomputed request sequence: key index and whether the request is an update.
pub struct Requests {
    /// Key index of request `i`.
    pub keys: Vec<u32>,
    /// True when request `i` is an update (put), false for a read (get).
    pub updates: Vec<bool>,
}

impl Requests {
    /// [`SEQUENCE_LEN`] zipfian requests over `n` keys, each an update with probability
    /// `update_ratio`. Same seed, same sequence.
    pub fn new(n: usize, update_ratio: f64, seed: u64) -> Self {
        let zipf = Zipf::new(n, THETA);
        let mut rng = XorShift::new(seed);
        let mut keys = Vec::with_capacity(SEQUENCE_LEN);
        let mut updates = Vec::with_capacity(SEQUENCE_LEN);
        for _ in 0..SEQUENCE_LEN {
            keys.push(zipf.sample(&mut rng) as u32);
            updates.push(rng.next_f64() < update_ratio);
        }
        Requests { keys, updates }
    }

    /// Request `i` (wrapping): `(key index, is_update)`.
    pub fn get(&self, i: usize) -> (usize, bool) {
        let i = i % self.keys.len();
        (self.keys[i] as usize, self.updates[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_is_skewed_and_scrambled_within_bounds() {
        let zipf = Zipf::new(10_000, THETA);
        let mut rng = XorShift::new(7);
        let mut hits = vec![0u32; 10_000];
        for _ in 0..100_000 {
            hits[zipf.sample(&mut rng)] += 1;
        }
        let hottest = *hits.iter().max().unwrap();
        // Rank 0 of a 10k-key zipfian(0.99) takes about 10% of requests.
        assert!(
            (5_000..20_000).contains(&hottest),
            "hottest key got {hottest}"
        );
        assert_eq!(hits[zipf.key_of(0)], hottest);
        assert_ne!(zipf.key_of(1), 1, "ranks are scrambled");
    }

    #[test]
    fn scramble_is_a_bijection() {
        for n in [1usize, 7, 1_000, 10_000] {
            let zipf = Zipf::new(n, THETA);
            let mut seen = vec![false; n];
            for rank in 0..n {
                seen[zipf.key_of(rank)] = true;
            }
            assert!(seen.iter().all(|&s| s), "n = {n}");
        }
    }

    #[test]
    fn update_ratio_is_respected() {
        let r = Requests::new(1_000, 0.05, 3);
        let updates = r.updates.iter().filter(|&&u| u).count() as f64 / SEQUENCE_LEN as f64;
        assert!((0.04..0.06).contains(&updates), "{updates}");
        assert!(Requests::new(1_000, 0.0, 3).updates.iter().all(|&u| !u));
    }
}
