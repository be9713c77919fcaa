"""Which filesystems are reported: local, disk-backed ones, each device once.

Pseudo and memory filesystems (proc, tmpfs, cgroup, squashfs snaps, …), network filesystems
(NFS, CIFS, FUSE: a hung server would block the collection) and overlay mounts other than a
container's ``/`` are skipped; a device mounted twice is reported once (``_reader``).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.semconv._incubating.attributes.system_attributes import (
    SYSTEM_DEVICE,
    SYSTEM_FILESYSTEM_MODE,
    SYSTEM_FILESYSTEM_MOUNTPOINT,
    SYSTEM_FILESYSTEM_TYPE,
)

if TYPE_CHECKING:
    from collections.abc import Mapping


__all__ = ["LINUX", "local"]


LINUX = sys.platform.startswith("linux")

# Filesystems that are not local disks. Network ones are skipped also because statvfs on a
# hung server blocks the collection.
_PSEUDO_FILESYSTEMS: Final = frozenset(
    {
        "autofs", "binfmt_misc", "bpf", "cgroup", "cgroup2", "configfs", "debugfs", "devfs",
        "devpts", "devtmpfs", "efivarfs", "fdescfs", "fusectl", "hugetlbfs", "iso9660",
        "mqueue", "nsfs", "nullfs", "proc", "procfs", "pstore", "ramfs", "rpc_pipefs",
        "securityfs", "selinuxfs", "squashfs", "sysfs", "tmpfs", "tracefs", "udf",
    }
)  # fmt: skip
_NETWORK_FILESYSTEMS: Final = frozenset(
    {
        "9p", "afs", "beegfs", "ceph", "cifs", "coda", "davfs", "fuse", "glusterfs", "gpfs",
        "lustre", "ncpfs", "nfs", "nfs4", "smb3", "smbfs", "sshfs", "webdav",
    }
)  # fmt: skip


def local(part: Any) -> Mapping[str, str] | None:
    """The attributes of a local disk filesystem, or None for one that is not reported."""
    fstype = part.fstype.lower()
    options = set(part.opts.split(","))
    if (
        not fstype
        or fstype in _PSEUDO_FILESYSTEMS
        or fstype in _NETWORK_FILESYSTEMS
        or fstype.startswith("fuse.")
        or (fstype == "overlay" and part.mountpoint != "/")  # other containers' layers
        or options & {"remote", "cdrom"}  # Windows network and optical drives
    ):
        return None
    if LINUX and not os.path.isdir(part.mountpoint):  # a file bind-mounted (/etc/hosts)
        return None
    return {
        SYSTEM_DEVICE: part.device,
        SYSTEM_FILESYSTEM_MOUNTPOINT: part.mountpoint,
        SYSTEM_FILESYSTEM_TYPE: part.fstype,
        SYSTEM_FILESYSTEM_MODE: "ro" if "ro" in options else "rw",
    }
