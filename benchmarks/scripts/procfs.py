"""What /proc says of the keeper and its daemon JVM (keeper_figures.py, keeper_under_load.py)."""
import os


def jvm_of(keeper):
    """The keeper's daemon JVM: its child given the keeper's channel (not an upgrade's check child)."""
    for child in open("/proc/%d/task/%d/children" % (keeper, keeper)).read().split():
        try:
            if "--keeper-channel" in open("/proc/%s/cmdline" % child).read():
                return int(child)
        except OSError:
            continue  # ended meanwhile
    return None


def cpu(pid):
    """CPU seconds of the process itself (utime + stime), not of its children."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid):
    return int([l for l in open("/proc/%d/status" % pid) if l.startswith("VmRSS")][0].split()[1])
