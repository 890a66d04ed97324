"""Ray's defaults that raybot reasons about, defined once (shared by diagnose and codecheck).

Every value is Ray 2.60.0's. Sources:

- ``RAY_CONFIG(type, name, default)`` lines of ``src/ray/common/ray_config_def.h``
  (https://github.com/ray-project/ray/blob/ray-2.60.0/src/ray/common/ray_config_def.h), read
  at commit 0006bd6c through the search tool; the two values the 2.60 wheel exposes at run time
  (``ray._raylet.Config.worker_register_timeout_seconds()`` -> 60,
  ``Config.record_ref_creation_sites()`` -> False) match;
- the autoscaler's ``defaults.yaml`` for ``idle_timeout_minutes``
  (``ray/autoscaler/aws/defaults.yaml`` in the 2.60 wheel: ``idle_timeout_minutes: 5``);
- ``ray/autoscaler/_private/constants.py`` in the 2.60 wheel for the monitor's update interval.

No imports: this module must stay importable without Ray.
"""

from __future__ import annotations

# ray_config_def.h: "The interval of periodic idle worker killing. Value of 0 means worker
# capping is disabled."  RAY_CONFIG(uint64_t, kill_idle_workers_interval_ms, 200)
KILL_IDLE_WORKERS_INTERVAL_MS = 200
# RAY_CONFIG(int64_t, idle_worker_killing_time_threshold_ms, 1000)
IDLE_WORKER_KILLING_TIME_THRESHOLD_MS = 1000
# RAY_CONFIG(int64_t, idle_worker_killing_memory_threshold_bytes, 1024 * 1024 * 1024)
IDLE_WORKER_KILLING_MEMORY_THRESHOLD_BYTES = 1024**3
# "-1 means using the available number of CPUs."  RAY_CONFIG(int64_t, num_workers_soft_limit, -1)
NUM_WORKERS_SOFT_LIMIT = -1
# RAY_CONFIG(bool, record_ref_creation_sites, false); Config.record_ref_creation_sites() is False
RECORD_REF_CREATION_SITES = False
# RAY_CONFIG(float, memory_usage_threshold, 0.95)
MEMORY_USAGE_THRESHOLD = 0.95
# "ThresholdMemoryMonitor is disabled when this value is 0."
# RAY_CONFIG(uint64_t, memory_monitor_refresh_ms, 250)
MEMORY_MONITOR_REFRESH_MS = 250
# RAY_CONFIG(int64_t, worker_register_timeout_seconds, 60); Config.worker_register_timeout_seconds()
WORKER_REGISTER_TIMEOUT_SECONDS = 60
# RAY_CONFIG(float, object_spilling_threshold, 0.8): spilling starts when primary copies take more
# than this fraction of the object store
OBJECT_SPILLING_THRESHOLD = 0.8

# ray/autoscaler/aws/defaults.yaml (and the gcp, azure, local ones): idle_timeout_minutes: 5
AUTOSCALER_IDLE_TIMEOUT_MINUTES = 5.0
# ray/autoscaler/_private/constants.py: AUTOSCALER_UPDATE_INTERVAL_S = env_integer(
#     "AUTOSCALER_UPDATE_INTERVAL_S", 5): how often the monitor writes its report to the GCS
AUTOSCALER_UPDATE_INTERVAL_S = 5

#: the raylet settings above by their config name, for lookups by name
RAYLET_DEFAULTS: dict[str, object] = {
    "kill_idle_workers_interval_ms": KILL_IDLE_WORKERS_INTERVAL_MS,
    "idle_worker_killing_time_threshold_ms": IDLE_WORKER_KILLING_TIME_THRESHOLD_MS,
    "idle_worker_killing_memory_threshold_bytes": IDLE_WORKER_KILLING_MEMORY_THRESHOLD_BYTES,
    "num_workers_soft_limit": NUM_WORKERS_SOFT_LIMIT,
    "record_ref_creation_sites": RECORD_REF_CREATION_SITES,
    "memory_usage_threshold": MEMORY_USAGE_THRESHOLD,
    "memory_monitor_refresh_ms": MEMORY_MONITOR_REFRESH_MS,
    "worker_register_timeout_seconds": WORKER_REGISTER_TIMEOUT_SECONDS,
    "object_spilling_threshold": OBJECT_SPILLING_THRESHOLD,
}
