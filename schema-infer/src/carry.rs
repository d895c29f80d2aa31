//! Feeding blocks to a push-style splitter without copying them: only the record
//! left unfinished at the end of one block is completed from the head of the next
//! (in growing steps); the rest of each block is processed where it lies.

/// The unfinished tail between blocks, and the stream offset of its first byte.
#[derive(Debug, Default)]
pub struct Carry {
    pending: Vec<u8>,
    base: u64,
}

impl Carry {
    /// An empty carry at offset 0.
    pub fn new() -> Carry {
        Carry::default()
    }

    /// The stream offset of the next unprocessed byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Skips `n` bytes at the start of the stream (e.g. a BOM).
    pub fn skip(&mut self, n: u64) {
        self.base += n;
    }

    /// Bytes waiting for the rest of a record.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Processes `block`. `f(buf, base)` must process complete records of `buf`
    /// (whose first byte is at stream offset `base`) and return the bytes used.
    pub fn feed<E>(&mut self, block: &[u8], mut f: impl FnMut(&[u8], u64) -> Result<usize, E>) -> Result<(), E> {
        let mut rest = block;
        if !self.pending.is_empty() {
            let mut old = self.pending.len();
            let mut k = block.len().min(64 << 10);
            self.pending.extend_from_slice(&block[..k]);
            loop {
                let used = f(&self.pending, self.base)?;
                self.base += used as u64;
                if used >= old {
                    // The carried record is done: continue in the block itself.
                    let in_block = used - old;
                    self.pending.clear();
                    rest = &block[in_block..];
                    break;
                }
                self.pending.drain(..used);
                old -= used;
                if k == block.len() {
                    return Ok(());
                }
                let k2 = (k * 2).min(block.len());
                self.pending.extend_from_slice(&block[k..k2]);
                k = k2;
            }
        }
        let used = f(rest, self.base)?;
        self.base += used as u64;
        self.pending.extend_from_slice(&rest[used..]);
        Ok(())
    }

    /// Processes what is left at the end of the input (`f` must consume it all).
    pub fn finish<E>(&mut self, mut f: impl FnMut(&[u8], u64) -> Result<usize, E>) -> Result<(), E> {
        let pending = std::mem::take(&mut self.pending);
        let used = f(&pending, self.base)?;
        self.base += used as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A toy splitter: consumes whole lines.
    fn lines(buf: &[u8], base: u64, out: &mut Vec<(u64, String)>) -> usize {
        let mut used = 0;
        while let Some(i) = buf[used..].iter().position(|&b| b == b'\n') {
            out.push((base + used as u64, String::from_utf8(buf[used..used + i].to_vec()).unwrap()));
            used += i + 1;
        }
        used
    }

    #[test]
    fn every_record_once_with_its_offset() {
        let text: String = (0..5000).map(|i| format!("{}\n", "x".repeat(i % 300))).collect();
        for block in [1, 7, 100, 4096, 1 << 20] {
            let mut c = Carry::new();
            let mut out = Vec::new();
            for b in text.as_bytes().chunks(block) {
                c.feed::<()>(b, |buf, base| Ok(lines(buf, base, &mut out))).unwrap();
            }
            c.finish::<()>(|buf, _| Ok(buf.len())).unwrap();
            assert_eq!(out.len(), 5000, "block {block}");
            let mut off = 0u64;
            for (i, (o, l)) in out.iter().enumerate() {
                assert_eq!((*o, l.len()), (off, i % 300));
                off += l.len() as u64 + 1;
            }
        }
    }
}
