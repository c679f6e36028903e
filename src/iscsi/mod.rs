//! open-iscsi and the kernel's iSCSI transport class. `iscsiadm` owns the tool,
//! `sysfs` the kernel's session state, `udev` the device links, `iscsid` the daemon's
//! pid file and the initiator's name; `probe` speaks the login phase to a target itself
//! (doctor). Nothing else touches them.

pub mod iscsiadm;
pub mod iscsid;
pub mod probe;
pub mod sysfs;
pub mod udev;
