//! A requested stop (Ctrl-C in Python) ends each long computation at a checkpoint: solvers unwind
//! with `interrupt::Interrupted`, the moment accumulator stops where its state is consistent.
//!
//! Its own test binary (so its own process): the stop flag is process-wide and would stop the
//! unit tests running beside it.

use std::panic::{catch_unwind, AssertUnwindSafe};

use faer::{Mat, Par};
use linssl::gep::{eigh_generalized, GepOptions, Solver};
use linssl::interrupt::{self, Interrupted};
use linssl::symmetric_eigen::symmetric_eigen;
use linssl::{eigh_generalized_batch, Error, Moments};

fn unwinds_interrupted(what: &str, f: impl FnOnce()) {
    let payload = catch_unwind(AssertUnwindSafe(f)).expect_err(what);
    assert!(payload.downcast_ref::<Interrupted>().is_some(), "{what}: unwound with another payload");
}

fn spd(d: usize, seed: u64) -> Mat<f64> {
    let x = Mat::from_fn(d, d, |i, j| (((i * 31 + j * 17) as u64 * 2654435761 + seed) % 1000) as f64 / 1000.0 - 0.5);
    let mut a = &x * x.transpose();
    for i in 0..d {
        a[(i, i)] += d as f64;
    }
    a
}

#[test]
fn every_long_path_stops_at_a_checkpoint_and_runs_again_after_clear() {
    let (a, b) = (spd(300, 1), spd(300, 2));
    let opts = |solver| GepOptions { solver, ..Default::default() };
    interrupt::checkpoint(); // not requested: returns
    interrupt::request();
    unwinds_interrupted("checkpoint", interrupt::checkpoint);
    unwinds_interrupted("dense", || drop(eigh_generalized(a.as_ref(), b.as_ref(), 4, &opts(Solver::Dense), Par::Seq)));
    unwinds_interrupted("iterative", || {
        drop(eigh_generalized(a.as_ref(), b.as_ref(), 4, &opts(Solver::Iterative), Par::Seq))
    });
    unwinds_interrupted("symmetric", || drop(symmetric_eigen(a.clone(), 4, true, Par::Seq)));
    let pairs = vec![(a.as_ref(), b.as_ref()); 4];
    unwinds_interrupted("batch", || drop(eigh_generalized_batch(&pairs, 2, &opts(Solver::Dense), Par::rayon(2))));

    // The accumulator stops between blocks of rows, with exactly those rows folded in: before any
    // here, so it is left as it was, and says so.
    for d in [64, 2100] {
        let x = Mat::from_fn(600, d, |i, j| ((i + 3 * j) % 7) as f64);
        let mut acc = Moments::new(d, 0).unwrap();
        match acc.update(x.as_ref(), None, Par::Seq) {
            Err(Error::Interrupted(msg)) => assert!(msg.starts_with("interrupted: the accumulator"), "{msg}"),
            other => panic!("d = {d}: {other:?}"),
        }
        assert_eq!(acc.n(), 0);
        assert!(acc.sum_x().iter().all(|&s| s == 0.0));
    }
    interrupt::clear();

    let sol = eigh_generalized(a.as_ref(), b.as_ref(), 4, &opts(Solver::Dense), Par::Seq).unwrap();
    assert_eq!(sol.w.len(), 4);
    let mut acc = Moments::new(8, 0).unwrap();
    acc.update(Mat::<f64>::identity(8, 8).as_ref(), None, Par::Seq).unwrap();
    assert_eq!(acc.n(), 8);
}
