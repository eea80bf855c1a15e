"""What /proc says of a process, for the memory checks run against a live rerankd."""


def rss_mib(pid):
    """Resident set size of `pid` in MiB (VmRSS), 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass
    return 0.0
