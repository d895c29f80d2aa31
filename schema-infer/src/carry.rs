//! Feeding blocks to a push-style splitter without copying them: only the record
//! left unfinished at the end of one block is completed from the head of the next
//! (in growing steps); the rest of each block is processed where it lies.

/// The unfinished tail between blocks, and the stream offset of its first byte.
#[derive(Debug, Default)]
pub struct Carry {
    pending: Vec<u8>,
    base: u64,
    /// After a carried record could not be finished, the pending size at which it is
    /// offered again: twice what was offered, so a record many blocks long is scanned a
    /// linear number of times in all, not once per block from its start.
    wait: usize,
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
            if self.pending.len() + block.len() < self.wait {
                self.pending.extend_from_slice(block);
                return Ok(());
            }
            let mut old = self.pending.len();
            // A short tail is completed from the head of the block in growing steps; a
            // long one (already as long as what it may still need) takes the block at once.
            let mut k = block.len().min((64 << 10).max(old));
            self.pending.extend_from_slice(&block[..k]);
            loop {
                let used = f(&self.pending, self.base)?;
                self.base += used as u64;
                if used >= old {
                    // The carried record is done: continue in the block itself.
                    let in_block = used - old;
                    self.pending.clear();
                    self.wait = 0;
                    rest = &block[in_block..];
                    break;
                }
                self.pending.drain(..used);
                old -= used;
                if k == block.len() {
                    self.wait = 2 * self.pending.len();
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
            // At the end the rest is processed whole (a record may have waited there).
            c.finish::<()>(|buf, base| {
                lines(buf, base, &mut out);
                Ok(buf.len())
            })
            .unwrap();
            assert_eq!(out.len(), 5000, "block {block}");
            let mut off = 0u64;
            for (i, (o, l)) in out.iter().enumerate() {
                assert_eq!((*o, l.len()), (off, i % 300));
                off += l.len() as u64 + 1;
            }
        }
    }

    /// Regression (bad-input corpus, a 50 MB string): a record many blocks long was
    /// offered again from its start for every block, in up to eight growing steps each,
    /// so the splitter rescanned it quadratically (minutes for 50 MB in a debug build).
    #[test]
    fn a_record_many_blocks_long_is_scanned_a_linear_number_of_times() {
        let record = format!("{}\n", "x".repeat(4 << 20));
        let text = format!("short\n{record}tail\n");
        let mut offered = 0usize;
        let mut out = Vec::new();
        let mut c = Carry::new();
        for b in text.as_bytes().chunks(64 << 10) {
            c.feed::<()>(b, |buf, base| {
                offered += buf.len();
                Ok(lines(buf, base, &mut out))
            })
            .unwrap();
        }
        c.finish::<()>(|buf, base| {
            offered += buf.len();
            lines(buf, base, &mut out);
            Ok(buf.len())
        })
        .unwrap();
        let lens: Vec<usize> = out.iter().map(|(_, l)| l.len()).collect();
        assert_eq!(lens, vec![5, 4 << 20, 4], "every record once");
        assert_eq!(out[2].0, 6 + record.len() as u64);
        // Once per block from the record's start would be about 32 times its length.
        assert!(offered < 6 * text.len(), "offered {offered} bytes for {} bytes of input", text.len());
    }
}
