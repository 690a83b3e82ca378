//! A fetched body as its chunks come: joined once when small, gathered within the cap when
//! large.

/// A body as its chunks come. Up to [`JOINED_UP_TO`] bytes the chunks are kept and joined
/// once at the end, into a buffer of the body's size: a buffer grown as they come is copied
/// at every doubling, and a feed's last doubling (to 128 KiB for a 92 KB feed) was a memory
/// map of its own, faulted in page by page. A larger body is gathered into one buffer as it
/// comes, which never grows past the cap, so that it does not take twice its size at the
/// end, chunks and buffer at once.
#[derive(Default)]
pub(super) struct Body {
    length: u64,
    chunks: Vec<bytes::Bytes>,
    /// The body so far, once it has passed `JOINED_UP_TO`.
    gathered: Vec<u8>,
}

/// The most a body is kept as its chunks.
const JOINED_UP_TO: u64 = 1024 * 1024;

impl Body {
    /// Adds a chunk; false when the body would then pass `cap` (nothing is added).
    pub(super) fn push(&mut self, chunk: bytes::Bytes, cap: u64) -> bool {
        let length = self.length + chunk.len() as u64;
        if length > cap {
            return false;
        }
        self.length = length;
        if length <= JOINED_UP_TO {
            self.chunks.push(chunk);
        } else {
            if !self.chunks.is_empty() {
                self.gathered = joined(std::mem::take(&mut self.chunks));
            }
            grow_within(&mut self.gathered, chunk.len(), cap);
            self.gathered.extend_from_slice(&chunk);
        }
        true
    }

    pub(super) fn finish(self) -> Vec<u8> {
        if self.chunks.is_empty() {
            self.gathered
        } else {
            joined(self.chunks)
        }
    }
}

/// The chunks of a body, one after the other, in a buffer of their size (a single chunk is
/// taken over, without a copy when nothing else shares it).
fn joined(mut chunks: Vec<bytes::Bytes>) -> Vec<u8> {
    if chunks.len() == 1 {
        return Vec::from(chunks.pop().expect("one chunk"));
    }
    let mut body = Vec::with_capacity(chunks.iter().map(bytes::Bytes::len).sum());
    for chunk in chunks {
        body.extend_from_slice(&chunk);
    }
    body
}

/// Makes room for `more` bytes in `body`, doubling as `Vec` does but never past `cap`: a
/// body near `max_body` must not hold a buffer of almost twice that (the caller has checked
/// that `more` fits under the cap).
fn grow_within(body: &mut Vec<u8>, more: usize, cap: u64) {
    let needed = body.len() + more;
    if needed > body.capacity() {
        let cap = usize::try_from(cap).unwrap_or(usize::MAX);
        let wanted = (body.capacity() * 2).max(needed).min(cap.max(needed));
        body.reserve_exact(wanted - body.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_buffer_never_grows_past_the_cap() {
        let cap = 10 * 1024 * 1024;
        let mut body = Vec::new();
        let chunk = vec![b'x'; 16 * 1024];
        while body.len() + chunk.len() <= cap {
            grow_within(&mut body, chunk.len(), cap as u64);
            body.extend_from_slice(&chunk);
        }
        assert!(body.capacity() <= cap, "{} > {cap}", body.capacity());
    }

    #[test]
    fn a_body_is_its_chunks_in_order_small_or_large_and_never_past_the_cap() {
        let cap = 3 * JOINED_UP_TO;
        for size in [
            0,
            1,
            5_000,
            200_000,
            JOINED_UP_TO as usize,
            2_500_000,
            cap as usize,
        ] {
            let bytes: Vec<u8> = (0..size).map(|at| (at % 251) as u8).collect();
            let mut body = Body::default();
            for piece in bytes.chunks(16 * 1024) {
                assert!(
                    body.push(bytes::Bytes::copy_from_slice(piece), cap),
                    "{size}"
                );
            }
            let gathered = body.gathered.capacity();
            let body = body.finish();
            assert_eq!(body, bytes, "{size}");
            assert!(body.capacity() <= cap as usize, "{size}");
            if size as u64 <= JOINED_UP_TO {
                assert_eq!(gathered, 0, "{size}: kept as chunks");
            }
        }
        // One byte more than the cap is refused, and nothing of it is kept.
        let mut body = Body::default();
        assert!(body.push(bytes::Bytes::from(vec![0; 1000]), 1500));
        assert!(!body.push(bytes::Bytes::from(vec![0; 501]), 1500));
        assert_eq!(body.finish().len(), 1000);
    }

    #[test]
    fn a_body_is_its_chunks_in_order_in_a_buffer_of_its_size() {
        let chunks: Vec<bytes::Bytes> = (0..40u8)
            .map(|n| bytes::Bytes::from(vec![n; 1000 + usize::from(n) * 37]))
            .collect();
        let expected: Vec<u8> = chunks.iter().flat_map(|chunk| chunk.to_vec()).collect();
        let body = joined(chunks);
        assert_eq!(body, expected);
        assert_eq!(body.capacity(), body.len(), "no slack beyond the body");
        assert_eq!(joined(vec![bytes::Bytes::from_static(b"one")]), b"one");
        assert!(joined(Vec::new()).is_empty());
    }
}
