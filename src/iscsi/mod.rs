//! open-iscsi and the kernel's iSCSI transport class. `iscsiadm` owns the tool,
//! `sysfs` the kernel's session state, `udev` the device links; nothing else touches them.

pub mod iscsiadm;
pub mod sysfs;
pub mod udev;
