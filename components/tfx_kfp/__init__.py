"""TFX components on the open-source KFP 2.17 backend: the spec adapter and the executor entrypoint.

Not a KFP component of its own: ``spec.py`` turns what TFX 1.21's KubeflowV2DagRunner writes into a spec the
KFP 2.17 API server, driver and launcher accept, and ``entrypoint.py`` is the command every TFX step of that spec
runs in the TFX image (it maps artifact URIs the way KFP's launcher does before TFX sees them).
``executor_io.py`` holds the plain functions both rely on. Upstream citations name files of kubeflow/pipelines
at tag 2.17.0 (``backend/src/...``); nothing of upstream is copied here.
"""
