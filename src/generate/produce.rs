//! The producer: turns the world into a sequence of COPY segments (one per target table or leaf
//! partition), in large binary buffers, and computes the dataset digest on the way.
//!
//! It runs on a thread of its own while the loader streams its buffers to the server, so generation
//! and ingestion overlap on the two cores. The digest is sha256 over the generated rows in the order
//! they are produced (tenants, providers, patients by tenant, then appointments month by month, in
//! day, tenant, provider and time order), each segment hashed over its binary-encoded rows: it
//! identifies the generated data itself, client-side, whatever the server does with it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};

use sha2::{Digest, Sha256};

use super::copy::StackRow;
use super::rows::{
    APPOINTMENT_COLUMNS, Appointment, PATIENT_COLUMNS, PROVIDER_COLUMNS, TENANT_COLUMNS,
};
use super::world::World;

/// Buffers handed to the loader: big enough that per-message overhead vanishes, small enough that the
/// server starts working at once.
pub const CHUNK_BYTES: usize = 2 << 20;

/// One COPY target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// The `tenant` table.
    Tenants,
    /// The `provider` table.
    Providers,
    /// The `patient` table.
    Patients,
    /// Appointments of month `m`, loaded into its leaf partition.
    Appointments(usize),
}

impl Segment {
    /// The relation to COPY into.
    pub fn relation(&self, w: &World) -> String {
        match self {
            Segment::Tenants => "tenant".into(),
            Segment::Providers => "provider".into(),
            Segment::Patients => "patient".into(),
            Segment::Appointments(m) => w.months[*m].leaf.clone(),
        }
    }

    /// The COPY column list, in the order the encoder writes fields.
    pub fn columns(&self) -> &'static str {
        match self {
            Segment::Tenants => TENANT_COLUMNS,
            Segment::Providers => PROVIDER_COLUMNS,
            Segment::Patients => PATIENT_COLUMNS,
            Segment::Appointments(_) => APPOINTMENT_COLUMNS,
        }
    }

    /// The logical table, for summaries.
    pub fn table(&self) -> &'static str {
        match self {
            Segment::Tenants => "tenant",
            Segment::Providers => "provider",
            Segment::Patients => "patient",
            Segment::Appointments(_) => "appointment",
        }
    }
}

/// Every segment of a dataset, in load (and digest) order.
pub fn segments(w: &World) -> Vec<Segment> {
    let mut s = vec![Segment::Tenants, Segment::Providers, Segment::Patients];
    s.extend((0..w.months.len()).map(Segment::Appointments));
    s
}

/// What the producer sends.
pub enum Chunk {
    /// A segment starts: its index in the segment list.
    Begin(usize),
    /// Binary-encoded rows (no COPY header or trailer) and how many.
    Data(Vec<u8>, u64),
    /// A segment is complete: its index and its total rows.
    End(usize, u64),
}

/// Rows per segment and the digest, when production is complete.
#[derive(Debug, Clone)]
pub struct Produced {
    /// Rows of each segment, in segment order.
    pub rows: Vec<u64>,
    /// The dataset digest, hex sha256 (see [`combine`]).
    pub digest: String,
}

/// One produced segment: its index, its rows and the sha256 of their encoding.
#[derive(Debug, Clone)]
pub struct SegmentDone {
    /// Index in the segment list.
    pub index: usize,
    /// Rows produced.
    pub rows: u64,
    /// sha256 of the segment's binary-encoded rows.
    pub hash: [u8; 32],
}

/// Hashes the chunks of the segments a receiver gets, into `SegmentDone`s.
#[derive(Default)]
pub struct SegmentHasher {
    current: Option<Sha256>,
    /// The segments finished so far, in the order they ended.
    pub done: Vec<SegmentDone>,
}

impl SegmentHasher {
    /// Starts hashing a new segment.
    pub fn begin(&mut self) {
        self.current = Some(Sha256::new());
    }

    /// Hashes a chunk of the current segment's rows (ignored before `begin`).
    pub fn data(&mut self, bytes: &[u8]) {
        if let Some(h) = &mut self.current {
            h.update(bytes);
        }
    }

    /// Finishes the current segment as `index` with `rows` rows.
    pub fn end(&mut self, index: usize, rows: u64) {
        let hash = self.current.take().unwrap_or_default().finalize().into();
        self.done.push(SegmentDone { index, rows, hash });
    }

    /// Follows a chunk.
    pub fn chunk(&mut self, chunk: &Chunk) {
        match chunk {
            Chunk::Begin(_) => self.begin(),
            Chunk::Data(buf, _) => self.data(buf),
            Chunk::End(i, n) => self.end(*i, *n),
        }
    }
}

/// Hands out segment indexes of a range, each once, to any number of producers: which producer (and
/// so which connection) gets a segment does not change its rows.
#[derive(Debug)]
pub struct SegmentQueue {
    next: AtomicUsize,
    end: usize,
}

impl SegmentQueue {
    /// A queue over `range`.
    pub fn new(range: std::ops::Range<usize>) -> SegmentQueue {
        SegmentQueue {
            next: AtomicUsize::new(range.start),
            end: range.end,
        }
    }

    /// The next segment index not yet handed out; `None` when the range is used up.
    pub fn take(&self) -> Option<usize> {
        let i = self.next.fetch_add(1, Ordering::SeqCst);
        (i < self.end).then_some(i)
    }
}

/// The dataset digest: sha256 over (relation, rows, segment hash) of every segment in order. Fails
/// unless every segment was produced exactly once.
pub fn combine(w: &World, segs: &[Segment], done: &[SegmentDone]) -> Option<Produced> {
    let mut by_index: Vec<Option<&SegmentDone>> = vec![None; segs.len()];
    for d in done {
        if by_index.get_mut(d.index)?.replace(d).is_some() {
            return None;
        }
    }
    let mut total = Sha256::new();
    let mut rows = Vec::with_capacity(segs.len());
    for (seg, d) in segs.iter().zip(by_index) {
        let d = d?;
        total.update(seg.relation(w).as_bytes());
        total.update(d.rows.to_le_bytes());
        total.update(d.hash);
        rows.push(d.rows);
    }
    Some(Produced {
        rows,
        digest: hex::encode(total.finalize()),
    })
}

struct Out<'a> {
    tx: &'a SyncSender<Chunk>,
    recycle: &'a Receiver<Vec<u8>>,
    buf: Vec<u8>,
    rows: u64,
    stopped: bool,
}

impl Out<'_> {
    fn fresh(&self) -> Vec<u8> {
        self.recycle.try_recv().map_or_else(
            |_| Vec::with_capacity(CHUNK_BYTES + 4096),
            |mut b| {
                b.clear();
                b
            },
        )
    }

    fn flush(&mut self) {
        if self.buf.is_empty() || self.stopped {
            return;
        }
        let next = self.fresh();
        let full = std::mem::replace(&mut self.buf, next);
        if self.tx.send(Chunk::Data(full, self.rows)).is_err() {
            self.stopped = true;
        }
        self.rows = 0;
    }

    #[inline]
    fn row_done(&mut self) {
        self.rows += 1;
        if self.buf.len() >= CHUNK_BYTES {
            self.flush();
        }
    }
}

/// Produces the segments `queue` hands out into `tx`; buffers come back through `recycle`. Stops
/// early (returning `None`) when the receiver hangs up, which is how the loader cancels it.
///
/// The digest is not computed here but by the receiver (`SegmentHasher`), over the very bytes it
/// sends to the server: sha256 costs about as much as generating a row, and the receiving thread
/// mostly waits for the server anyway.
pub fn produce(
    w: &World,
    segs: &[Segment],
    queue: &SegmentQueue,
    tx: &SyncSender<Chunk>,
    recycle: &Receiver<Vec<u8>>,
) -> Option<()> {
    let mut out = Out {
        tx,
        recycle,
        buf: Vec::with_capacity(CHUNK_BYTES + 4096),
        rows: 0,
        stopped: false,
    };
    while let Some(i) = queue.take() {
        if tx.send(Chunk::Begin(i)).is_err() {
            return None;
        }
        let mut n = 0u64;
        match &segs[i] {
            Segment::Tenants => {
                n = w.encode_tenants(&mut out.buf);
                out.rows = n;
            }
            Segment::Providers => {
                n = w.encode_providers(&mut out.buf);
                out.rows = n;
            }
            Segment::Patients => {
                for t in 0..w.tenants.len() {
                    let k = w.encode_patients(t, &mut out.buf);
                    n += k;
                    out.rows += k;
                    if out.buf.len() >= CHUNK_BYTES {
                        out.flush();
                    }
                }
            }
            Segment::Appointments(m) => {
                let mut row = StackRow::new();
                w.month_appointments(*m, &mut |a: &Appointment| {
                    a.encode_binary_with(w, &mut row, &mut out.buf);
                    n += 1;
                    out.row_done();
                });
            }
        }
        out.flush();
        if out.stopped || tx.send(Chunk::End(i, n)).is_err() {
            return None;
        }
    }
    Some(())
}

/// The generator's own cost: produces `segs` on this thread into a receiver that only hands the
/// buffers back (no digest, no server). Returns the rows produced.
pub fn generate_only(w: &World, segs: &[Segment]) -> Option<u64> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(4);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let sink = s.spawn(move || {
            let mut rows = 0;
            for chunk in rx {
                match chunk {
                    Chunk::Data(buf, _) => {
                        let _ = back_tx.send(buf);
                    }
                    Chunk::End(_, n) => rows += n,
                    Chunk::Begin(_) => {}
                }
            }
            rows
        });
        let finished = produce(w, segs, &SegmentQueue::new(0..segs.len()), &tx, &back_rx);
        drop(tx);
        let rows = sink.join().ok()?;
        finished.map(|()| rows)
    })
}

/// Produces `segs` without a server and returns their digest (the receiving thread hashes, as in a
/// load): what a seed of the same request will report.
pub fn produce_to_nothing(w: &World, segs: &[Segment]) -> Option<Produced> {
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(4);
        let (back_tx, back_rx) = std::sync::mpsc::channel::<Vec<u8>>();
        let sink = s.spawn(move || {
            let mut hasher = SegmentHasher::default();
            for chunk in rx {
                hasher.chunk(&chunk);
                if let Chunk::Data(buf, _) = chunk {
                    let _ = back_tx.send(buf);
                }
            }
            hasher.done
        });
        let finished = produce(w, segs, &SegmentQueue::new(0..segs.len()), &tx, &back_rx);
        drop(tx);
        let done = sink.join().ok()?;
        finished?;
        combine(w, segs, &done)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Profile;

    /// The generator version and the digest of `tiny` at scale 1, seed 42, that it produces. When the
    /// generator's output changes, this fails: bump `GENERATOR_VERSION` (so cached datasets are
    /// re-seeded) and pin the new digest beside it, here and in `tests/it/seed.rs`.
    pub const TINY_PINNED: (u32, &str) = (
        3,
        "df1338748446a121962dd924ae7765b9da9208976c8befd3f99d6a8affae33b0",
    );

    #[test]
    fn the_tiny_digest_is_pinned_to_the_generator_version() {
        let w = World::plan(&Profile::resolve("tiny").unwrap(), 1.0, 42).unwrap();
        let digest = produce_to_nothing(&w, &segments(&w)).unwrap().digest;
        assert_eq!(
            (crate::generate::GENERATOR_VERSION, digest.as_str()),
            TINY_PINNED,
            "the generator's output changed: bump GENERATOR_VERSION and pin the new digest with it"
        );
    }

    #[test]
    fn the_digest_depends_on_the_data_only() {
        let profile = Profile::resolve("tiny").unwrap();
        let w = World::plan(&profile, 1.0, 42).unwrap();
        let segs = segments(&w);
        let a = produce_to_nothing(&w, &segs).unwrap();
        let b = produce_to_nothing(&w, &segs).unwrap();
        assert_eq!(a.digest, b.digest);
        assert_eq!(a.rows[3..].iter().sum::<u64>(), w.counts.appointments);
        let other = World::plan(&profile, 1.0, 7).unwrap();
        assert_ne!(produce_to_nothing(&other, &segs).unwrap().digest, a.digest);
    }
}
