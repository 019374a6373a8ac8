//! Band -> tridiagonal by bulge chasing (the second stage of a two-stage tridiagonalisation).
//!
//! A symmetric band matrix of half-bandwidth `b` is reduced to tridiagonal form one column per
//! sweep, as in LAPACK's `dsytrd_sb2st`: sweep `i` annihilates column `i` below its subdiagonal
//! with a reflector on rows `i + 1 ..= i + b`, whose two-sided application creates a bulge in the
//! next `b x b` block down the band; a second reflector annihilates only the *first column* of
//! that bulge (the rest is annihilated by the following sweeps) and creates a bulge one block
//! further down, and so on to the end of the matrix. Every step touches `O(b^2)` entries of a
//! compact band array that stays in cache, so the whole stage is `O(n^2 b)` flops on `O(n b)`
//! memory, where a one-stage reduction streams the whole dense matrix once per column.
//!
//! The reflectors are kept (in [`ChaseReflectors`]) for the back-transformation of eigenvectors.

use std::sync::atomic::{AtomicUsize, Ordering};

use faer::{ColRef, MatRef};

/// The lower half of a symmetric band matrix: entry `(r, c)`, `0 <= r - c < ld`, at
/// `data[c * ld + r - c]`. `ld = 2 b` leaves room for the bulges of the chase.
pub(super) struct Band {
    n: usize,
    b: usize,
    ld: usize,
    data: Vec<f64>,
}

impl Band {
    /// The band of half-bandwidth `b` of the symmetric matrix whose lower triangle is `a`.
    pub(super) fn from_lower(a: MatRef<'_, f64>, b: usize) -> Band {
        let n = a.nrows();
        let b = b.clamp(1, n.max(2) - 1);
        let ld = 2 * b;
        let mut data = vec![0.0; n * ld];
        for c in 0..n {
            for d in 0..=b.min(n - 1 - c) {
                data[c * ld + d] = a[(c + d, c)];
            }
        }
        Band { n, b, ld, data }
    }
}

/// The reflectors of a chase. Sweep `i`'s reflector `t` is `H = I - tau v v^T` acting on rows
/// `i + 1 + t b ..`, stored as `b` entries (`v[0] = 1`, zeros past its length; `tau = 0` for an
/// identity), so that `Q2 = prod_i prod_t H_(i, t)` and `T = Q2^T B Q2`.
pub(super) struct ChaseReflectors {
    pub(super) n: usize,
    pub(super) b: usize,
    /// First slot of each sweep; sweep `i` has `slot_start[i + 1] - slot_start[i]` reflectors.
    slot_start: Vec<usize>,
    v: Vec<f64>,
    tau: Vec<f64>,
}

impl ChaseReflectors {
    fn new(n: usize, b: usize) -> ChaseReflectors {
        let sweeps = n.saturating_sub(2);
        let mut slot_start = Vec::with_capacity(sweeps + 1);
        let mut total = 0;
        slot_start.push(0);
        for i in 0..sweeps {
            // Reflectors start at rows i + 1 + t b <= n - 1.
            total += (n - 1 - i).div_ceil(b);
            slot_start.push(total);
        }
        ChaseReflectors { n, b, slot_start, v: vec![0.0; total * b], tau: vec![0.0; total] }
    }

    /// Number of sweeps (reflectors exist for sweeps `0..sweeps()`).
    pub(super) fn sweeps(&self) -> usize {
        self.slot_start.len() - 1
    }

    /// Reflector `t` of sweep `i`: its `b` stored entries and `tau`, or `None` past the end.
    pub(super) fn get(&self, i: usize, t: usize) -> Option<(&[f64], f64)> {
        if i >= self.sweeps() {
            return None;
        }
        let slot = self.slot_start[i] + t;
        (slot < self.slot_start[i + 1]).then(|| (&self.v[slot * self.b..(slot + 1) * self.b], self.tau[slot]))
    }
}

/// Below this dimension the chase runs on one thread (a sweep is too short to share).
const PARALLEL_MIN_DIM: usize = 512;

/// Reduce the band to tridiagonal form: returns its diagonal, subdiagonal (length n, last entry
/// zero) and the reflectors. Up to `threads` threads chase consecutive sweeps at once.
pub(super) fn chase(mut band: Band, threads: usize) -> (Vec<f64>, Vec<f64>, ChaseReflectors) {
    let (n, b) = (band.n, band.b);
    let mut refl = ChaseReflectors::new(n, b);
    let threads = if n >= PARALLEL_MIN_DIM { threads.clamp(1, 8) } else { 1 };
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for (checked above).
            run_sweeps(&mut band, &mut refl, threads, |ctx, i, work| unsafe { sweep_avx2_fma(ctx, i, work) });
            return finish(band, refl);
        }
    }
    run_sweeps(&mut band, &mut refl, threads, sweep);
    finish(band, refl)
}

fn finish(band: Band, refl: ChaseReflectors) -> (Vec<f64>, Vec<f64>, ChaseReflectors) {
    let n = band.n;
    let diag = (0..n).map(|c| band.data[c * band.ld]).collect();
    let subdiag = (0..n).map(|c| if c + 1 < n { band.data[c * band.ld + 1] } else { 0.0 }).collect();
    (diag, subdiag, refl)
}

/// What the sweeps share: the band and the reflectors as raw parts, and each sweep's progress.
///
/// Step `t` of sweep `i` reads and writes rows and columns `i + 1 + (t - 1) b ..= i + (t + 1) b`
/// of the band only (step 0: `i ..= i + b`), so it commutes with the steps `t + 3..` of sweep
/// `i - 1`: a sweep waits until its predecessor has done three more steps, and the result is
/// the same, entry for entry, as one sweep after the other. Concurrent steps therefore touch
/// disjoint ranges of columns of the band array, and disjoint slots of the reflectors.
struct Context<'a> {
    n: usize,
    b: usize,
    ld: usize,
    data: *mut f64,
    v: *mut f64,
    tau: *mut f64,
    slot_start: &'a [usize],
    /// Steps done by each sweep (`usize::MAX` once finished); empty when single-threaded.
    progress: Vec<AtomicUsize>,
}

// SAFETY: the raw parts are only turned into slices of disjoint ranges by concurrent steps (see
// `Context`), and the owner outlives the threads (scoped).
unsafe impl Sync for Context<'_> {}

// The accessors hand out `&mut` slices from `&self` on purpose: concurrent sweeps share the
// context and each takes its own disjoint ranges (the safety contract of each accessor).
#[allow(clippy::mut_from_ref)]
impl Context<'_> {
    /// Columns `c0..c1` of the band array.
    ///
    /// # Safety
    /// No other live slice may overlap them.
    unsafe fn columns(&self, c0: usize, c1: usize) -> &mut [f64] {
        std::slice::from_raw_parts_mut(self.data.add(c0 * self.ld), (c1 - c0) * self.ld)
    }

    /// The reflector slots of sweep `i`: their entries and coefficients.
    ///
    /// # Safety
    /// Only the thread running sweep `i` may hold them.
    unsafe fn slots(&self, i: usize) -> (&mut [f64], &mut [f64]) {
        let (s0, s1) = (self.slot_start[i], self.slot_start[i + 1]);
        (
            std::slice::from_raw_parts_mut(self.v.add(s0 * self.b), (s1 - s0) * self.b),
            std::slice::from_raw_parts_mut(self.tau.add(s0), s1 - s0),
        )
    }

    /// Before step `t` of sweep `i`: wait for sweep `i - 1` to be three steps ahead.
    fn wait(&self, i: usize, t: usize) {
        if i == 0 || self.progress.is_empty() {
            return;
        }
        let mut spins = 0u32;
        while self.progress[i - 1].load(Ordering::Acquire) < t + 3 {
            spins = spins.saturating_add(1);
            if spins < 1 << 12 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    fn done(&self, i: usize, steps: usize) {
        if let Some(p) = self.progress.get(i) {
            p.store(steps, Ordering::Release);
        }
    }
}

/// Run every sweep, on `threads` threads (sweep `i` on thread `i % threads`).
fn run_sweeps(
    band: &mut Band,
    refl: &mut ChaseReflectors,
    threads: usize,
    f: impl Fn(&Context<'_>, usize, &mut [f64]) + Sync,
) {
    let sweeps = refl.sweeps();
    let ctx = Context {
        n: band.n,
        b: band.b,
        ld: band.ld,
        data: band.data.as_mut_ptr(),
        v: refl.v.as_mut_ptr(),
        tau: refl.tau.as_mut_ptr(),
        slot_start: &refl.slot_start,
        progress: if threads > 1 { (0..sweeps).map(|_| AtomicUsize::new(0)).collect() } else { Vec::new() },
    };
    let run = |p: usize| {
        let mut work = vec![0.0; ctx.b];
        for i in (p..sweeps).step_by(threads) {
            f(&ctx, i, &mut work);
            ctx.done(i, usize::MAX);
        }
    };
    if threads == 1 {
        run(0);
    } else {
        // Plain scoped threads: every sweep waits on the previous one, so all of them must run
        // at once (a pool could leave one queued behind a busy worker).
        std::thread::scope(|scope| {
            for p in 1..threads {
                let run = &run;
                scope.spawn(move || run(p));
            }
            run(0);
        });
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn sweep_avx2_fma(ctx: &Context<'_>, i: usize, work: &mut [f64]) {
    sweep(ctx, i, work)
}

/// Sweep `i`: annihilate column `i` below the subdiagonal and chase the bulge off the band.
#[inline(always)]
fn sweep(ctx: &Context<'_>, i: usize, work: &mut [f64]) {
    let (n, b, ld) = (ctx.n, ctx.b, ctx.ld);
    // SAFETY: only this sweep uses its slots.
    let (vs, taus) = unsafe { ctx.slots(i) };
    // The first reflector, from column i, rows i + 1 ..= ed.
    let mut st = i + 1;
    let mut ed = (i + b).min(n - 1);
    let mut len = ed - st + 1;
    ctx.wait(i, 0);
    {
        // SAFETY: step 0 touches columns i ..= ed only (see `Context`).
        let win = unsafe { ctx.columns(i, ed + 1) };
        let v = &mut vs[..len];
        taus[0] = reflector(&mut win[1..1 + len], v);
        two_sided(win, ld, 1, len, v, taus[0], work);
    }
    ctx.done(i, 1);
    let mut t = 0;
    loop {
        let j1 = ed + 1;
        if j1 >= n {
            break;
        }
        let j2 = (ed + b).min(n - 1);
        let lm = j2 - j1 + 1;
        ctx.wait(i, t + 1);
        // SAFETY: this step touches columns st ..= j2 only (see `Context`).
        let win = unsafe { ctx.columns(st, j2 + 1) };
        let (head, tail) = vs.split_at_mut((t + 1) * b);
        let (v, tau) = (&head[t * b..t * b + len], taus[t]);
        // The block rows j1..=j2, columns st..=ed: column st + c's part starts at
        // win[c ld + j1 - st - c].
        if tau != 0.0 {
            // From the right: B -= tau (B v) v^T.
            let y = &mut work[..lm];
            y.fill(0.0);
            for (c, &vc) in v.iter().enumerate() {
                let o = c * ld + j1 - st - c;
                axpy(y, vc, &win[o..o + lm]);
            }
            for (c, &vc) in v.iter().enumerate() {
                let o = c * ld + j1 - st - c;
                axpy(&mut win[o..o + lm], -tau * vc, y);
            }
        }
        // The next reflector annihilates the bulge's first column (column st, rows j1 + 1..=j2).
        let v = &mut tail[..lm];
        taus[t + 1] = reflector(&mut win[j1 - st..j1 - st + lm], v);
        let tau = taus[t + 1];
        if tau != 0.0 {
            // From the left on the block's other columns: B -= tau v (v^T B).
            for c in 1..len {
                let o = c * ld + j1 - st - c;
                let col = &mut win[o..o + lm];
                let d = dot(v, col);
                axpy(col, -tau * d, v);
            }
        }
        two_sided(win, ld, j1 - st, lm, v, tau, work);
        t += 1;
        ctx.done(i, t + 1);
        st = j1;
        ed = j2;
        len = lm;
    }
}

/// LAPACK's `dlarfg` on `x`: writes `beta` to `x[0]`, zeroes `x[1..]`, the reflector's vector
/// to `v` (`v[0] = 1`) and returns `tau` (0 when `x[1..]` is already zero).
#[inline(always)]
fn reflector(x: &mut [f64], v: &mut [f64]) -> f64 {
    v[0] = 1.0;
    if x.len() < 2 {
        v[1..].fill(0.0);
        return 0.0;
    }
    let tail_norm = ColRef::from_slice(&x[1..]).norm_l2();
    if tail_norm == 0.0 {
        v[1..].fill(0.0);
        return 0.0;
    }
    let alpha = x[0];
    let beta = -alpha.hypot(tail_norm).copysign(alpha);
    let scale = 1.0 / (alpha - beta);
    for (vi, xi) in v[1..].iter_mut().zip(x[1..].iter_mut()) {
        *vi = *xi * scale;
        *xi = 0.0;
    }
    x[0] = beta;
    (beta - alpha) / beta
}

/// `A <- H A H` for the symmetric diagonal block rows and columns `s .. s + len` (lower part
/// stored), `H = I - tau v v^T` (LAPACK's `dlarfy`): `w = tau A v - (tau^2 / 2) (v^T A v) v`,
/// then `A -= v w^T + w v^T`.
#[inline(always)]
fn two_sided(data: &mut [f64], ld: usize, s: usize, len: usize, v: &[f64], tau: f64, work: &mut [f64]) {
    if tau == 0.0 {
        return;
    }
    let w = &mut work[..len];
    w.fill(0.0);
    // w = A v from the lower triangle: column c adds A[c.., c] v[c] to w[c..] and its dot with v[c + 1..] to w[c].
    for c in 0..len {
        let o = (s + c) * ld;
        let col = &data[o..o + len - c];
        let below = &col[1..];
        w[c] += col[0] * v[c];
        axpy(&mut w[c + 1..], v[c], below);
        w[c] += dot(below, &v[c + 1..]);
    }
    w.iter_mut().for_each(|x| *x *= tau);
    let alpha = -0.5 * tau * dot(w, v);
    axpy(w, alpha, v);
    for c in 0..len {
        let o = (s + c) * ld;
        let col = &mut data[o..o + len - c];
        axpy(col, -w[c], &v[c..]);
        axpy(col, -v[c], &w[c..]);
    }
}

/// `y += alpha x`.
#[inline(always)]
fn axpy(y: &mut [f64], alpha: f64, x: &[f64]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = xi.mul_add(alpha, *yi);
    }
}

/// `x . y`, with independent partial sums so that it vectorises.
#[inline(always)]
fn dot(x: &[f64], y: &[f64]) -> f64 {
    let len = x.len().min(y.len());
    let (x, y) = (&x[..len], &y[..len]);
    let mut acc = [0.0f64; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (a, b) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] = a[l].mul_add(b[l], acc[l]);
        }
    }
    let mut tail = 0.0;
    for (a, b) in xr.iter().zip(yr) {
        tail = a.mul_add(*b, tail);
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::Mat;

    /// Rebuild `Q2 T Q2^T` from the chase's output: it must equal the band matrix.
    #[test]
    fn chase_is_an_orthogonal_similarity() {
        for (n, b) in [(1usize, 3usize), (2, 3), (5, 4), (40, 6), (67, 8), (33, 32)] {
            let dense = Mat::<f64>::from_fn(n, n, |r, c| {
                if r.abs_diff(c) <= b {
                    (((r + 1) * (c + 1) * 7919) % 101) as f64 / 50.0 - 1.0
                } else {
                    0.0
                }
            });
            let (d, e, refl) = chase(Band::from_lower(dense.as_ref(), b), 1);
            let b = refl.b;
            let mut m = Mat::<f64>::from_fn(n, n, |r, c| match r.abs_diff(c) {
                0 => d[r],
                1 => e[r.min(c)],
                _ => 0.0,
            });
            // B = Q2 T Q2^T: apply the reflectors in reverse order of creation, two-sided.
            for i in (0..refl.sweeps()).rev() {
                let mut t = 0;
                while refl.get(i, t).is_some() {
                    t += 1;
                }
                for t in (0..t).rev() {
                    let (v, tau) = refl.get(i, t).unwrap();
                    let s = i + 1 + t * b;
                    let len = b.min(n - s);
                    let h = Mat::<f64>::from_fn(n, n, |r, c| {
                        let id = if r == c { 1.0 } else { 0.0 };
                        if (s..s + len).contains(&r) && (s..s + len).contains(&c) {
                            id - tau * v[r - s] * v[c - s]
                        } else {
                            id
                        }
                    });
                    m = &h * &m * &h;
                }
            }
            let err = (&m - &dense).norm_max();
            assert!(err < 1e-13, "n={n} b={b}: {err}");
        }
    }

    #[test]
    fn parallel_sweeps_give_the_sequential_result_exactly() {
        let (n, b) = (PARALLEL_MIN_DIM + 37, 7);
        let dense = Mat::<f64>::from_fn(n, n, |r, c| {
            if r.abs_diff(c) <= b {
                (((r + 3) * (c + 5) * 7919) % 103) as f64 / 51.0 - 1.0
            } else {
                0.0
            }
        });
        let (d1, e1, r1) = chase(Band::from_lower(dense.as_ref(), b), 1);
        for threads in [2, 3] {
            let (d2, e2, r2) = chase(Band::from_lower(dense.as_ref(), b), threads);
            assert!(d1 == d2 && e1 == e2 && r1.v == r2.v && r1.tau == r2.tau, "threads={threads}");
        }
    }
}
