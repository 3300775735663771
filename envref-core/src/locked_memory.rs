//! The vault agent's secrets on pages locked against swap (`mlock`), each on pages of its own.
//!
//! The agent locks its whole process (`mlockall`) only when nothing bounds locked memory: under
//! RLIMIT_MEMLOCK (8 MiB for a user by default, and the envref binary alone maps more) Linux
//! refuses it, or, under a larger limit, fails a later allocation past it. Locking only what
//! holds a secret fits in that limit: one page per key and a fixed arena for the values it
//! decrypted. Both are page-aligned and a whole number of pages, so unlocking one (on drop)
//! never unlocks a page another secret is on.

use std::collections::HashMap;

use zeroize::Zeroize;

/// Pages are 4 KiB on the platforms envref runs on; on larger pages, a secret may share one
/// with another, which only matters when one is unlocked while the other lives.
const PAGE: usize = 4096;

/// A value aligned to, and filling, whole pages.
#[repr(C, align(4096))]
struct Page<T>(T);

/// Locks the pages of one allocation for as long as it lives. Declared before the memory in
/// the structs below, so it unlocks before the memory is freed.
struct Lock(Option<region::LockGuard>);

impl Lock {
    fn pages<T: ?Sized>(value: &T) -> Lock {
        let start = value as *const T as *const u8;
        Lock(region::lock(start, std::mem::size_of_val(value)).ok())
    }
}

/// A value on locked pages of its own (the key).
pub(crate) struct LockedBox<T> {
    lock: Lock,
    page: Box<Page<T>>,
}

impl<T> LockedBox<T> {
    pub(crate) fn new(value: T) -> LockedBox<T> {
        let page = Box::new(Page(value));
        LockedBox {
            lock: Lock::pages(&*page),
            page,
        }
    }

    /// Whether the pages are locked (RLIMIT_MEMLOCK allowed it).
    pub(crate) fn is_locked(&self) -> bool {
        self.lock.0.is_some()
    }
}

impl<T> std::ops::Deref for LockedBox<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.page.0
    }
}

/// Values remembered by the SHA-256 of their ciphertext, in a fixed arena of locked pages;
/// when the arena is full it is wiped and starts over. Zeroed on drop.
pub(crate) struct LockedValues {
    lock: Lock,
    arena: Box<[Page<[u8; PAGE]>]>,
    used: usize,
    index: HashMap<[u8; 32], (usize, usize)>,
}

impl LockedValues {
    /// An arena of `pages` pages.
    pub(crate) fn new(pages: usize) -> LockedValues {
        let arena: Box<[Page<[u8; PAGE]>]> = (0..pages).map(|_| Page([0u8; PAGE])).collect();
        LockedValues {
            lock: Lock::pages(&*arena),
            arena,
            used: 0,
            index: HashMap::new(),
        }
    }

    /// Whether the arena's pages are locked.
    pub(crate) fn is_locked(&self) -> bool {
        self.lock.0.is_some()
    }

    fn capacity(&self) -> usize {
        self.arena.len() * PAGE
    }

    /// The value remembered for `id`, copied out (the caller zeroes its copy).
    pub(crate) fn get(&self, id: &[u8; 32]) -> Option<zeroize::Zeroizing<Vec<u8>>> {
        let &(start, len) = self.index.get(id)?;
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(len));
        self.each_segment(start, len, |page, range, _| {
            out.extend_from_slice(&self.arena[page].0[range])
        });
        Some(out)
    }

    /// Remember `value` for `id`; one larger than the arena is not remembered.
    pub(crate) fn put(&mut self, id: [u8; 32], value: &[u8]) {
        if value.len() > self.capacity() {
            return;
        }
        if self.used + value.len() > self.capacity() {
            self.wipe();
        }
        let start = self.used;
        let mut segments = Vec::new();
        self.each_segment(start, value.len(), |page, range, done| {
            segments.push((page, range, done))
        });
        for (page, range, done) in segments {
            let n = range.len();
            self.arena[page].0[range].copy_from_slice(&value[done..done + n]);
        }
        self.used += value.len();
        self.index.insert(id, (start, value.len()));
    }

    /// The page-sized pieces of `[start, start + len)`: (page, range in it, bytes before it).
    fn each_segment(
        &self,
        start: usize,
        len: usize,
        mut f: impl FnMut(usize, std::ops::Range<usize>, usize),
    ) {
        let mut done = 0;
        while done < len {
            let at = start + done;
            let (page, offset) = (at / PAGE, at % PAGE);
            let n = (PAGE - offset).min(len - done);
            f(page, offset..offset + n, done);
            done += n;
        }
    }

    fn wipe(&mut self) {
        for page in self.arena.iter_mut() {
            page.0.zeroize();
        }
        self.used = 0;
        self.index.clear();
    }
}

impl Drop for LockedValues {
    fn drop(&mut self) {
        self.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_across_pages_come_back_and_a_full_arena_starts_over() {
        let mut v = LockedValues::new(2);
        let a = vec![b'a'; 3000];
        let b: Vec<u8> = (0..4000u32).map(|i| i as u8).collect(); // spans pages 0 and 1
        v.put([1; 32], &a);
        v.put([2; 32], &b);
        assert_eq!(&**v.get(&[1; 32]).unwrap(), &a[..]);
        assert_eq!(&**v.get(&[2; 32]).unwrap(), &b[..]);
        assert!(v.get(&[3; 32]).is_none());
        // 3000 + 4000 + 2000 > 8192: wiped first, so only the newest is left.
        v.put([3; 32], &[7u8; 2000]);
        assert!(v.get(&[1; 32]).is_none() && v.get(&[2; 32]).is_none());
        assert_eq!(&**v.get(&[3; 32]).unwrap(), &[7u8; 2000][..]);
        // Larger than the arena: not remembered, nothing lost.
        v.put([4; 32], &vec![0u8; 3 * PAGE]);
        assert!(v.get(&[4; 32]).is_none() && v.get(&[3; 32]).is_some());
    }

    #[test]
    fn boxes_and_arenas_are_page_aligned_whole_pages() {
        let b = LockedBox::new([9u8; 32]);
        assert_eq!(&*b as *const _ as usize % PAGE, 0);
        assert_eq!(std::mem::size_of::<Page<[u8; 32]>>(), PAGE);
        let v = LockedValues::new(3);
        assert_eq!(v.arena.as_ptr() as usize % PAGE, 0);
        assert_eq!(std::mem::size_of_val(&*v.arena), 3 * PAGE);
    }
}
