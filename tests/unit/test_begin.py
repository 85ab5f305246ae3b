"""begin() reads the declared parameters from the notebook's namespace, and refuses a kernel
that holds other values than the run validated and recorded (issue 23, build 2)."""
import pytest

from rovn_ops.core.errors import BadInput
from rovn_ops.run import context
from rovn_ops.safety import params

MODEL = params.model_for("service_status")


def recorded(**changes) -> dict:
    return MODEL(**changes).model_dump(mode="json")


def kernel(**changes) -> dict:
    """What papermill's injected cell leaves in the namespace: every recorded value."""
    return dict(recorded(**changes), context=context, __name__="__main__")


def test_what_the_kernel_holds_is_what_was_recorded():
    ns = kernel(events=5)
    p = params.validate(MODEL, {n: ns[n] for n in MODEL.model_fields})
    context.held(MODEL, ns, p, recorded(events=5))  # no refusal


def test_a_shadowed_parameter_is_refused_naming_it():
    ns = kernel(events=5)
    ns["events"] = 1  # a cell before begin() sets the name again (or imports one called so)
    p = params.validate(MODEL, {n: ns[n] for n in MODEL.model_fields})
    with pytest.raises(BadInput, match=r"^parameters events: the kernel holds other values than the run "
                                       r"validated and recorded"):
        context.held(MODEL, ns, p, recorded(events=5))


def test_a_forgotten_parameter_is_refused_naming_it():
    ns = kernel()
    del ns["alarm_prefix"], ns["health_url"]  # a parameters cell that lost them
    p = params.validate(MODEL, {n: ns[n] for n in MODEL.model_fields if n in ns})
    with pytest.raises(BadInput, match=r"^parameters health_url, alarm_prefix: not in the kernel"):
        context.held(MODEL, ns, p, recorded())


def test_begin_refuses_before_it_reaches_anything(monkeypatch, tmp_path):
    """Through begin itself: the run file the runner writes, a namespace shadowing a value;
    refused before the endpoint guard, STS or the recorder are reached."""
    import json

    run_file = tmp_path / "run.json"
    run_file.write_text(json.dumps({"parameters": recorded(events=5)}))
    monkeypatch.setenv("ROVN_MODE", "headless")
    monkeypatch.setenv("ROVN_RUN_FILE", str(run_file))
    monkeypatch.setattr(context.aws, "guard", lambda env: pytest.fail("guard reached"))
    ns = kernel(events=5)
    ns["events"] = 7
    with pytest.raises(BadInput, match="parameters events"):
        context.begin("service_status", ns)
