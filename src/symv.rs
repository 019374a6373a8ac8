//! `y = A x` for a symmetric `A` stored as its lower triangle, reading each stored entry once.
//!
//! The symmetric matrix-vector product is half of the flops of a tridiagonalisation and, being
//! one multiply-add per entry read, it is bound by memory bandwidth; reading the triangle once
//! (each column feeds both its dot product with `x` and its share of `y`) is what makes it as
//! fast as the hardware allows. Four columns are handled per pass so `y` is loaded and stored a
//! quarter as often; on x86-64 with AVX2 and FMA (checked at run time) the pass uses them.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use faer::prelude::Reborrow;
use faer::{ColMut, ColRef, MatMut, MatRef, Par};

/// Below this dimension one thread does the whole product: a second thread's start-up and the
/// split's synchronisation cost more than it saves on a product this small (set by timing both).
const PARALLEL_MIN_DIM: usize = 640;

/// Threads that share the symmetric products of one run (a panel of a tridiagonalisation).
///
/// Between products the helper threads spin rather than sleep: waking a sleeping thread costs
/// tens of microseconds (about 50 on the 2-core machines we measure on), as much as a whole
/// product of dimension 1000, and a tridiagonalisation makes one product per column. A part no
/// helper has claimed yet is done by the calling thread, so the team never waits for a thread
/// that is busy elsewhere.
pub struct SymvTeam<'s> {
    shared: Option<&'s Shared>,
    threads: usize,
}

/// Run `body` with a team of up to `par.degree()` threads (the caller and helpers from rayon's
/// pool); the helpers are released when `body` returns.
pub fn with_symv_team<R: Send>(par: Par, body: impl FnOnce(&SymvTeam<'_>) -> R + Send) -> R {
    let threads = par.degree().min(rayon::current_num_threads()).min(MAX_THREADS);
    if threads <= 1 {
        return body(&SymvTeam { shared: None, threads: 1 });
    }
    let shared = Shared::new();
    rayon::scope(|s| {
        shared.owner.store(rayon::current_thread_index().unwrap_or(usize::MAX), Ordering::Release);
        for _ in 1..threads {
            let shared = &shared;
            s.spawn(move |_| shared.serve());
        }
        // Release the helpers however `body` ends: rayon's scope waits for them even when
        // `body` panics, and a helper that never stopped would hang it.
        let _release = StopOnDrop(&shared.stop);
        body(&SymvTeam { shared: Some(&shared), threads })
    })
}

/// Sets the flag when dropped (on return or unwinding).
struct StopOnDrop<'a>(&'a AtomicBool);

impl Drop for StopOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

impl SymvTeam<'_> {
    /// `y = A x` with `A` symmetric (m x m), only its lower triangle `a` read; `a` must have unit
    /// row stride. `scratch` is (m, t) workspace with t >= the team's size, one column per part.
    pub fn lower_symv(&self, a: MatRef<'_, f64>, x: ColRef<'_, f64>, mut y: ColMut<'_, f64>, scratch: MatMut<'_, f64>) {
        let m = a.nrows();
        // A column of a column-major matrix (as in a tridiagonalisation) is used in place.
        let owned: Vec<f64>;
        let x: &[f64] = match x.try_as_col_major() {
            Some(x) => x.as_slice(),
            None => {
                owned = x.iter().copied().collect();
                &owned
            }
        };
        let parts = match self.shared {
            Some(_) if m >= PARALLEL_MIN_DIM => self.threads.min(scratch.ncols()),
            _ => 1,
        };
        // Column ranges of equal triangular work: part p starts at column m (1 - sqrt(1 - p / t)).
        let mut cuts = [0usize; MAX_THREADS + 1];
        for (p, cut) in cuts.iter_mut().enumerate().take(parts + 1) {
            *cut = if p == parts {
                m
            } else {
                ((m as f64) * (1.0 - (1.0 - p as f64 / parts as f64).sqrt())).round() as usize
            };
        }
        let task = Task {
            a: a.as_ptr(),
            m,
            a_col_stride: a.col_stride(),
            x: x.as_ptr(),
            out: scratch.as_ptr_mut(),
            out_col_stride: scratch.col_stride(),
            cuts,
        };
        assert!(a.row_stride() == 1 && scratch.row_stride() == 1, "unit row strides");
        match self.shared {
            Some(shared) if parts > 1 => shared.run(task, parts),
            // SAFETY: part 0 of a task built from live views, on this thread.
            _ => unsafe { task.run_part(0) },
        }
        // Part p wrote rows cuts[p].. of its column; rows above it are not its business.
        y.copy_from(scratch.rb().col(0));
        for p in 1..parts {
            let part = scratch.rb().col(p);
            for r in cuts[p]..m {
                y[r] += part[r];
            }
        }
    }
}

/// Most threads a team uses (the products are bound by memory bandwidth well before that).
const MAX_THREADS: usize = 16;

/// One product, as raw parts: the views it was built from are borrowed by the caller of
/// [`SymvTeam::lower_symv`], which does not return (or touch them) until every part is done.
#[derive(Clone, Copy)]
struct Task {
    a: *const f64,
    m: usize,
    a_col_stride: isize,
    x: *const f64,
    out: *mut f64,
    out_col_stride: isize,
    cuts: [usize; MAX_THREADS + 1],
}

impl Task {
    /// # Safety
    /// The pointers must describe live memory, and no other thread may run the same part.
    unsafe fn run_part(&self, p: usize) {
        let a = MatRef::from_raw_parts(self.a, self.m, self.m, 1, self.a_col_stride);
        let x = std::slice::from_raw_parts(self.x, self.m);
        let out = std::slice::from_raw_parts_mut(self.out.offset(p as isize * self.out_col_stride), self.m);
        lower_symv_columns(a, x, out, self.cuts[p], self.cuts[p + 1]);
    }
}

/// What the team's threads share. `state` packs the task's generation (bits 32..), its number of
/// parts (bits 16..32) and the next unclaimed part (bits 0..16), so that claiming a part is one
/// compare-and-swap on a consistent snapshot.
struct Shared {
    /// Pool index of the thread that owns the team (rayon may hand it its own helper's job).
    owner: AtomicUsize,
    state: AtomicU64,
    finished: AtomicUsize,
    /// A part panicked: the owner re-raises it once every part has been counted.
    failed: AtomicBool,
    stop: AtomicBool,
    task: UnsafeCell<Option<Task>>,
}

// SAFETY: `task` is written by the owner only while no part is claimed or running (it waits for
// `finished`), and read by a helper only after it claimed a part of the current generation.
unsafe impl Sync for Shared {}

impl Shared {
    fn new() -> Self {
        Shared {
            owner: AtomicUsize::new(usize::MAX),
            state: AtomicU64::new(0),
            finished: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            task: UnsafeCell::new(None),
        }
    }

    /// Claim the next part of the current task, if any is left.
    fn claim(&self) -> Option<usize> {
        let mut s = self.state.load(Ordering::Acquire);
        loop {
            let (next, parts) = (s & 0xffff, (s >> 16) & 0xffff);
            if next >= parts {
                return None;
            }
            match self.state.compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Some(next as usize),
                Err(now) => s = now,
            }
        }
    }

    /// Owner side: publish `task`, work on it, and return once all `parts` are done.
    fn run(&self, task: Task, parts: usize) {
        // SAFETY: the previous task's parts are all finished, so nobody reads `task`.
        unsafe { *self.task.get() = Some(task) };
        self.finished.store(0, Ordering::Relaxed);
        let generation = (self.state.load(Ordering::Relaxed) >> 32) + 1;
        self.state.store(generation << 32 | (parts as u64) << 16, Ordering::Release);
        self.work();
        while self.finished.load(Ordering::Acquire) < parts {
            std::hint::spin_loop();
        }
        assert!(!self.failed.load(Ordering::Acquire), "a part of a symmetric matrix-vector product panicked");
    }

    /// Do claimed parts until none is left.
    fn work(&self) {
        while let Some(p) = self.claim() {
            // SAFETY: the task was published before the claimed state (Release/Acquire); each
            // part is claimed once; the owner keeps the memory alive until `finished` counts it.
            // A panicking part is still counted, so that no thread waits for it forever.
            let task = unsafe { (*self.task.get()).expect("a task is published before its parts") };
            if catch_unwind(AssertUnwindSafe(|| unsafe { task.run_part(p) })).is_err() {
                self.failed.store(true, Ordering::Release);
            }
            self.finished.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Helper side: spin for parts until the owner stops the team. After a long idle spell
    /// (the rank-2k update between panels runs elsewhere) the helper yields its core.
    fn serve(&self) {
        if rayon::current_thread_index() == Some(self.owner.load(Ordering::Acquire)) {
            // The owner picked up its own helper's job while waiting inside rayon: serving would
            // never return to the owner's work, so leave the parts to it.
            return;
        }
        let mut idle = 0u32;
        while !self.stop.load(Ordering::Acquire) {
            let s = self.state.load(Ordering::Acquire);
            if s & 0xffff < (s >> 16) & 0xffff {
                self.work();
                idle = 0;
            } else {
                idle = idle.saturating_add(1);
                if idle < 1 << 16 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// The contribution of columns `lo..hi` of the lower triangle to `A x`, written to `out[lo..]`
/// (overwritten): column j adds `a[j.., j] . x[j..]` to `out[j]` and `a[i, j] x[j]` to `out[i]`, i > j.
fn lower_symv_columns(a: MatRef<'_, f64>, x: &[f64], out: &mut [f64], lo: usize, hi: usize) {
    let m = a.nrows();
    out[lo..m].fill(0.0);
    let col = |c: usize| a.col(c).try_as_col_major().expect("unit row stride").as_slice();
    let mut j = lo;
    while j < hi {
        let g = (hi - j).min(4);
        // The g x g diagonal block, entry by entry.
        for c in j..j + g {
            let cc = col(c);
            out[c] += cc[c] * x[c];
            for r in c + 1..j + g {
                out[r] += cc[r] * x[c];
                out[c] += cc[r] * x[r];
            }
        }
        let below = j + g;
        if below < m {
            if g == 4 {
                let cols = [&col(j)[below..], &col(j + 1)[below..], &col(j + 2)[below..], &col(j + 3)[below..]];
                let xs = [x[j], x[j + 1], x[j + 2], x[j + 3]];
                let dots = four_columns(cols, xs, &x[below..m], &mut out[below..m]);
                for (c, d) in dots.into_iter().enumerate() {
                    out[j + c] += d;
                }
            } else {
                for c in j..j + g {
                    let cc = &col(c)[below..];
                    let (xc, mut dot) = (x[c], 0.0);
                    for ((o, &v), &xi) in out[below..m].iter_mut().zip(cc).zip(&x[below..m]) {
                        *o += v * xc;
                        dot += v * xi;
                    }
                    out[c] += dot;
                }
            }
        }
        j += g;
    }
}

/// For four column slices `cols` (same length as `xr` and `yr`): `yr += sum_c cols[c] xs[c]`, and
/// returns the dot products `cols[c] . xr`.
fn four_columns(cols: [&[f64]; 4], xs: [f64; 4], xr: &[f64], yr: &mut [f64]) -> [f64; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for (checked above).
            return unsafe { four_columns_avx2_fma(cols, xs, xr, yr) };
        }
    }
    let mut dots = [0.0; 4];
    four_columns_portable(cols, xs, xr, yr, &mut dots);
    dots
}

/// The loop of [`four_columns`] in plain Rust, adding the dot products into `dots`.
#[inline(always)]
fn four_columns_portable(cols: [&[f64]; 4], xs: [f64; 4], xr: &[f64], yr: &mut [f64], dots: &mut [f64; 4]) {
    for i in 0..yr.len() {
        let xi = xr[i];
        let mut yi = yr[i];
        for c in 0..4 {
            let v = cols[c][i];
            yi += v * xs[c];
            dots[c] += v * xi;
        }
        yr[i] = yi;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn four_columns_avx2_fma(cols: [&[f64]; 4], xs: [f64; 4], xr: &[f64], yr: &mut [f64]) -> [f64; 4] {
    use std::arch::x86_64::*;
    let len = yr.len();
    assert!(xr.len() == len && cols.iter().all(|c| c.len() == len));
    let xb = [_mm256_set1_pd(xs[0]), _mm256_set1_pd(xs[1]), _mm256_set1_pd(xs[2]), _mm256_set1_pd(xs[3])];
    let mut acc = [_mm256_setzero_pd(); 4];
    let mut i = 0;
    // SAFETY (loads and stores): i + 4 <= len for every slice, checked by the loop condition.
    while i + 4 <= len {
        let xv = _mm256_loadu_pd(xr.as_ptr().add(i));
        let a0 = _mm256_loadu_pd(cols[0].as_ptr().add(i));
        let a1 = _mm256_loadu_pd(cols[1].as_ptr().add(i));
        let a2 = _mm256_loadu_pd(cols[2].as_ptr().add(i));
        let a3 = _mm256_loadu_pd(cols[3].as_ptr().add(i));
        let t01 = _mm256_fmadd_pd(a1, xb[1], _mm256_mul_pd(a0, xb[0]));
        let t23 = _mm256_fmadd_pd(a3, xb[3], _mm256_mul_pd(a2, xb[2]));
        let yv = _mm256_add_pd(_mm256_loadu_pd(yr.as_ptr().add(i)), _mm256_add_pd(t01, t23));
        _mm256_storeu_pd(yr.as_mut_ptr().add(i), yv);
        acc[0] = _mm256_fmadd_pd(a0, xv, acc[0]);
        acc[1] = _mm256_fmadd_pd(a1, xv, acc[1]);
        acc[2] = _mm256_fmadd_pd(a2, xv, acc[2]);
        acc[3] = _mm256_fmadd_pd(a3, xv, acc[3]);
        i += 4;
    }
    let mut dots = [0.0; 4];
    for c in 0..4 {
        let mut lanes = [0.0; 4];
        _mm256_storeu_pd(lanes.as_mut_ptr(), acc[c]);
        dots[c] = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    }
    let tail = [&cols[0][i..], &cols[1][i..], &cols[2][i..], &cols[3][i..]];
    four_columns_portable(tail, xs, &xr[i..], &mut yr[i..], &mut dots);
    dots
}

#[cfg(test)]
mod tests {
    use super::*;
    use faer::{Col, Mat};

    fn check(m: usize, threads: usize, team: Option<&SymvTeam<'_>>) {
        let sym = Mat::<f64>::from_fn(m, m, |i, j| ((i.max(j) * 7 + i.min(j) * 3) % 11) as f64 - 5.0);
        // Garbage above the diagonal must be ignored.
        let lower = Mat::<f64>::from_fn(m, m, |i, j| if i >= j { sym[(i, j)] } else { f64::NAN });
        let x = Col::<f64>::from_fn(m, |i| (i as f64 * 0.37).sin());
        let expected = &sym * &x;
        let mut y = Col::<f64>::zeros(m);
        let mut scratch = Mat::<f64>::zeros(m, threads);
        match team {
            Some(team) => team.lower_symv(lower.as_ref(), x.as_ref(), y.as_mut(), scratch.as_mut()),
            None => with_symv_team(Par::rayon(threads), |team| {
                team.lower_symv(lower.as_ref(), x.as_ref(), y.as_mut(), scratch.as_mut())
            }),
        }
        for i in 0..m {
            assert!((y[i] - expected[i]).abs() <= 1e-12 * (1.0 + expected[i].abs()), "m={m} t={threads} i={i}");
        }
    }

    #[test]
    fn matches_the_full_product_for_any_size_and_thread_count() {
        for m in [1usize, 2, 3, 5, 7, 8, 13, 130, 257, 641, 1000] {
            for threads in [1usize, 2, 3] {
                check(m, threads, None);
            }
        }
    }

    #[test]
    fn the_owner_does_every_part_when_no_helper_is_free() {
        // The pool's other thread is busy for the team's whole life: no part may wait for it.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        pool.install(|| {
            let (tx, rx) = std::sync::mpsc::channel::<()>();
            rayon::scope(|s| {
                s.spawn(move |_| {
                    let _ = rx.recv();
                });
                with_symv_team(Par::rayon(2), |team| {
                    for m in [700usize, 650] {
                        check(m, 2, Some(team));
                    }
                });
                tx.send(()).unwrap();
            });
        });
    }

    #[test]
    fn a_panic_inside_a_team_is_raised_not_hung() {
        let outcome = std::panic::catch_unwind(|| {
            with_symv_team(Par::rayon(2), |team| {
                check(700, 2, Some(team));
                panic!("failure inside the team's body");
            })
        });
        assert!(outcome.is_err());
        // The pool is still usable afterwards.
        with_symv_team(Par::rayon(2), |team| check(700, 2, Some(team)));
    }

    #[test]
    fn a_team_serves_many_products_of_changing_size() {
        // As in a tridiagonalisation: one team, products of decreasing size, crossing the
        // size below which the caller works alone.
        with_symv_team(Par::rayon(2), |team| {
            for m in (600..=900).rev().step_by(37) {
                check(m, 2, Some(team));
            }
        });
    }
}
