//! Host tools Kiln starts outside any box (`mkfs.ext4` and `mount` for a
//! workspace's home) must not inherit the descriptors Kiln itself inherited
//! from whoever started it: [`cloexec_inherited`] marks them close-on-exec.

/// Marks every descriptor from 3 up close-on-exec (`close_range` with
/// `CLOSE_RANGE_CLOEXEC`, Linux 5.11). Kiln's own descriptors are
/// close-on-exec already; this catches the ones it was started with.
pub fn cloexec_inherited() -> std::io::Result<()> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC takes integers and only
    // sets a flag on descriptors; no memory is read or written.
    let r = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3u32,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
