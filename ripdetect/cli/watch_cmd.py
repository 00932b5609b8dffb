"""``ripdetect watch``: follow every camera of a profile file, with rolling clip results, alerts, metrics and
state that survives a restart. Progress and status go to the log; SIGTERM and Ctrl-C stop it cleanly.

    ripdetect watch --cameras cameras.yaml --out watch/ --metrics-port 9108
    ripdetect watch --cameras cameras.yaml --out backfill/ --once      # files to their end, then exit
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from ripdetect.cli.flags import add_config_flags, add_executor_flags, with_flags, port_number
from ripdetect.config import AlertConfig, WatchConfig


def add_parser(sub) -> None:
    parser = sub.add_parser("watch", help="follow live cameras: clip results, alerts, /metrics and /healthz")
    parser.add_argument("--cameras", required=True, metavar="FILE",
                        help="camera profile file, YAML or JSON: a list 'cameras:' of entries with name and source (a "
                             "stream URL, a video file or a folder of them), and optionally roi, model, video, "
                             "inference and alerts settings; see docs/cameras.md")
    parser.add_argument("--out", required=True, help="results, snapshots and state.sqlite; one folder per camera")
    parser.add_argument("--once", action="store_true",
                        help="analyse files and folders to their end (streams until they end), then exit "
                             "(default: follow without end)")
    parser.add_argument("--metrics-port", type=port_number, default=None, metavar="P",
                        help="serve /metrics (Prometheus) and /healthz on this port (default: not served)")
    parser.add_argument("--metrics-host", default="127.0.0.1",
                        help="address for --metrics-port (default: 127.0.0.1, local only)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="with --executor ray: Ray workers the cameras are dealt to (default: one per camera, "
                             "at most one per CPU of the cluster)")
    add_executor_flags(parser)
    watch_flags = add_config_flags(parser, WatchConfig)
    group = parser.add_argument_group("alerts (override the profile file's, for every camera)")
    alert_flags = add_config_flags(group, AlertConfig, only=("webhook", "command", "min_interval_s"),
                                   rename={"command": "alert_command", "min_interval_s": "alert_interval_s"})
    parser.set_defaults(run=run, watch_flags=watch_flags, alert_flags=alert_flags)


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ripdetect.cameras.profiles import load_profiles
    from ripdetect.cameras.watch import Watcher

    profiles = [dataclasses.replace(p, alerts=with_flags(p.alerts, args, args.alert_flags))
                for p in load_profiles(args.cameras)]
    watcher = Watcher(profiles, args.out, with_flags(WatchConfig(), args, args.watch_flags), once=args.once,
                      metrics_port=args.metrics_port, metrics_host=args.metrics_host, executor=args.executor,
                      ray_address=args.ray_address, jobs=args.jobs)
    logger = logging.getLogger("ripdetect")
    level = logger.level
    logger.setLevel(min(logging.INFO, logger.getEffectiveLevel()))  # progress and status are a service's log
    handlers = {signum: signal.signal(signum, lambda *_: watcher.stop()) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        watcher.run()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        logger.setLevel(level)
    down = watcher.cameras_down() if args.once else {}
    if down:  # a back-fill that could not analyse a camera did not do its job
        listed = "; ".join(f"{name}: {detail}" for name, detail in down.items())
        print(f"ripdetect: {len(down)} of {len(profiles)} camera(s) could not be analysed: {listed}", file=sys.stderr)
        return 1
    return 0
