//! Where the scenarios run. The harness talks to the box only as a tester would: its HTTP
//! API and HLS (on a port of this machine's loopback: forwarded by QEMU, or tunnelled by
//! SSH), a shell on the box for what a hand would do (pull a cable), and the power.

use std::path::PathBuf;

use crate::scenario::Firmware;

pub(crate) trait Target {
    /// The power comes on, or is on already; returns when the box's API answers.
    fn power_on(&mut self) -> Result<(), String>;
    /// The plug is pulled: nothing is flushed, nothing shuts down.
    fn power_cut(&mut self) -> Result<(), String>;
    /// Called between polls: a box that rebooted on its own is brought up again (the
    /// virtual board's bootloader runs between two QEMUs).
    fn tick(&mut self) -> Result<(), String>;
    /// A shell command on the box (as root); its output, or why it failed.
    fn sh(&mut self, script: &str) -> Result<String, String>;
    /// The loopback port the box's HTTP server is reached on.
    fn port(&self) -> u16;
    /// The address the box reaches the tester's receivers on.
    fn tester(&self) -> String;
    /// Boots since the last `power_on` from off (a reboot adds one).
    fn boots(&self) -> u32;
    /// A signed update bundle carrying `firmware`, newer than any before.
    fn bundle(&mut self, firmware: Firmware) -> Result<PathBuf, String>;
    /// The cable of `input` (its device on the box) comes out or goes back in.
    fn cable(&mut self, device: &str, plugged: bool) -> Result<(), String>;
    /// Puts a file on the box before it boots, at `/run/out/NAME` (the virtual board's
    /// shared folder).
    fn put(&mut self, name: &str, bytes: &[u8]) -> Result<(), String>;
    /// Copies a file from the box to this machine.
    fn fetch(&mut self, remote: &str, local: &std::path::Path) -> Result<(), String>;
    /// Logs worth reading when a scenario fails.
    fn logs(&self) -> String;
}
