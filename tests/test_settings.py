import pytest

from labelstream.errors import ConfigError
from labelstream.settings import load_settings


def test_defaults_are_valid():
    settings = load_settings()
    assert settings.policy.target_precision == 0.95
    assert settings.topics.model_versions == "model-versions"


def test_environment_overrides_toml(tmp_path, monkeypatch):
    config = tmp_path / "labelstream.toml"
    config.write_text('[kafka]\nbootstrap_servers = "file:1"\n[policy]\nconfidence_threshold = 0.8\n')
    monkeypatch.setenv("LABELSTREAM_KAFKA__BOOTSTRAP_SERVERS", "env:2")
    settings = load_settings(config)
    assert settings.kafka.bootstrap_servers == "env:2"
    assert settings.policy.confidence_threshold == 0.8


def test_wrong_type_names_the_setting(monkeypatch):
    monkeypatch.setenv("LABELSTREAM_LABELER__BATCH_SIZE", "lots")
    with pytest.raises(ConfigError, match=r"labeler\.batch_size \(LABELSTREAM_LABELER__BATCH_SIZE\)"):
        load_settings()


def test_unknown_policy_names_the_setting_and_choices(monkeypatch):
    monkeypatch.setenv("LABELSTREAM_POLICY__NAME", "magic")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "policy.name" in str(info.value) and "'threshold'" in str(info.value) and "magic" in str(info.value)


def test_unknown_setting_in_file_is_refused(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[policy]\ntarget_precison = 0.9\n")
    with pytest.raises(ConfigError, match="policy.target_precison"):
        load_settings(config)


def test_unknown_setting_says_so_and_not_pydantics_extra_inputs(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[policy]\ntarget_precison = 0.9\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert str(info.value) == (
        "unknown setting policy.target_precison (LABELSTREAM_POLICY__TARGET_PRECISON); "
        "check its spelling (README.md, Settings)"
    )


def test_malformed_toml_names_the_file_and_the_fix(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text("[policy\ntarget_precision = 0.9\n")
    with pytest.raises(ConfigError) as info:
        load_settings(config)
    assert str(info.value).startswith(f"config file {config} is not valid TOML (")
    assert str(info.value).endswith("fix it, or leave out --config / LABELSTREAM_CONFIG")


@pytest.mark.parametrize(
    ("name", "value", "fix"),
    [
        ("LABELSTREAM_WEAK__FUNCTIONS", "mypkg.lfs", """write a list as JSON, e.g. '["a", "b"]'"""),
        (
            "LABELSTREAM_KAFKA",
            "{bad",
            "write the section as a JSON object, or set each setting as LABELSTREAM_KAFKA__NAME",
        ),
    ],
)
def test_an_environment_variable_that_is_not_json_is_named(monkeypatch, name, value, fix):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert str(info.value) == f"{name} is not valid JSON (got {value!r}); {fix}"


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_a_directory_as_config_file_is_said_so(tmp_path):
    with pytest.raises(ConfigError, match="is a directory, not a TOML file"):
        load_settings(tmp_path)


def test_sasl_needs_credentials(monkeypatch):
    monkeypatch.setenv("LABELSTREAM_KAFKA__SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("LABELSTREAM_KAFKA__SASL_MECHANISM", "SCRAM-SHA-512")
    with pytest.raises(ConfigError, match="sasl_username and sasl_password"):
        load_settings()


def test_secrets_are_hidden_in_repr_and_errors(monkeypatch):
    settings = load_settings(
        kafka={
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "PLAIN",
            "sasl_username": "u",
            "sasl_password": "hunter2",
        },
        learner={"snapshot_hmac_key": "topsecret"},
    )
    assert "hunter2" not in repr(settings) and "topsecret" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
    with pytest.raises(ConfigError) as info:
        load_settings(learner={"snapshot_hmac_key": 987654321})
    assert "snapshot_hmac_key" in str(info.value) and "987654321" not in str(info.value)


def test_production_refuses_the_development_key(monkeypatch):
    monkeypatch.setenv("LABELSTREAM_ENVIRONMENT", "production")
    with pytest.raises(ConfigError, match="snapshot_hmac_key"):
        load_settings()


def test_reviewer_holds_go_with_the_gold_accuracy_bound_but_not_the_conditional_one(monkeypatch):
    """The accuracy bound drops a held reviewer's gold answers (docs/contract.md, section 5, Holds); the conditional
    one cannot, and stays refused."""
    from labelstream.core.build import build_engine
    from labelstream.core.calibration_holds import HeldGoldAccuracyBound
    from labelstream.core.calibration_reviewers import GoldAccuracyBound
    from labelstream.core.calibration_weighted import StreamWeightedGoldBound

    monkeypatch.setenv("LABELSTREAM_REVIEW__GOLD_HOLD_BELOW", "0.8")
    assert load_settings().review.gold_hold_below == 0.8  # holds alone: fine
    monkeypatch.setenv("LABELSTREAM_POLICY__REVIEWER_ACCURACY_FROM_GOLD", "true")
    settings = load_settings()  # with the default, weighted gold bound: fine (a held reviewer bounds no one else)
    assert (settings.review.gold_hold_below, settings.policy.reviewer_accuracy_from_gold) == (0.8, True)
    assert isinstance(build_engine(settings).policy.gold_bound, StreamWeightedGoldBound)
    monkeypatch.setenv("LABELSTREAM_POLICY__GOLD_BOUND", "accuracy")  # the pooled one drops held reviewers
    assert isinstance(build_engine(load_settings()).policy.gold_bound, HeldGoldAccuracyBound)
    monkeypatch.setenv("LABELSTREAM_POLICY__GOLD_BOUND", "conditional")
    with pytest.raises(ConfigError, match="review.gold_hold_below needs policy.gold_bound 'accuracy'"):
        load_settings()
    monkeypatch.delenv("LABELSTREAM_REVIEW__GOLD_HOLD_BELOW")
    monkeypatch.setenv("LABELSTREAM_POLICY__GOLD_BOUND", "accuracy")
    assert type(build_engine(load_settings()).policy.gold_bound) is GoldAccuracyBound  # no holds: as before


def test_the_weighted_gold_bound_is_built_with_or_without_holds(monkeypatch):
    """policy.gold_bound 'weighted' builds the stream-share-weighted bound, with holds too (it needs no hold rule)."""
    from labelstream.core.build import build_engine
    from labelstream.core.calibration_weighted import StreamWeightedGoldBound

    monkeypatch.setenv("LABELSTREAM_POLICY__REVIEWER_ACCURACY_FROM_GOLD", "true")
    monkeypatch.setenv("LABELSTREAM_POLICY__GOLD_BOUND", "weighted")
    bound = build_engine(load_settings()).policy.gold_bound
    assert type(bound) is StreamWeightedGoldBound and bound.alpha == pytest.approx(0.025)
    monkeypatch.setenv("LABELSTREAM_REVIEW__GOLD_HOLD_BELOW", "0.8")
    assert type(build_engine(load_settings()).policy.gold_bound) is StreamWeightedGoldBound


def test_the_conditional_gold_bound_per_reviewer_is_built_with_or_without_holds_and_refuses_an_assumed_accuracy(
    monkeypatch,
):
    """policy.gold_bound 'conditional-weighted' builds the conditional bound per reviewer, with holds too (a held
    reviewer's gold bounds only their own answers); like the pooled conditional bound it sets the bar alone."""
    from labelstream.core.build import build_engine
    from labelstream.core.calibration_weighted_conditional import StreamWeightedConditionalGoldBound

    monkeypatch.setenv("LABELSTREAM_POLICY__REVIEWER_ACCURACY_FROM_GOLD", "true")
    monkeypatch.setenv("LABELSTREAM_POLICY__GOLD_BOUND", "conditional-weighted")
    engine = build_engine(load_settings())
    assert type(engine.policy.gold_bound) is StreamWeightedConditionalGoldBound
    assert engine.policy.gold_bound.alpha == pytest.approx(0.025) and engine.policy.calibrator.bar == 1.0
    monkeypatch.setenv("LABELSTREAM_REVIEW__GOLD_HOLD_BELOW", "0.8")
    assert type(build_engine(load_settings()).policy.gold_bound) is StreamWeightedConditionalGoldBound
    monkeypatch.setenv("LABELSTREAM_POLICY__REVIEWER_ACCURACY", "0.97")
    with pytest.raises(ValueError, match="alone"):
        build_engine(load_settings())


def test_none_over_a_default_reaches_a_child_process(monkeypatch):
    """weak.halflife_answers defaults to 1000; None (never forget) must survive settings_to_env, as ``null``."""
    from labelstream.settings import settings_to_env

    settings = load_settings(weak={"halflife_answers": None})
    env = settings_to_env(settings)
    assert env["LABELSTREAM_WEAK__HALFLIFE_ANSWERS"] == "null"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    child = load_settings()
    assert child.weak.halflife_answers is None
    assert child == settings


def test_review_ops_port_off_by_default_and_apart_from_the_page_port(monkeypatch):
    assert load_settings().review.ops_port is None  # /metrics and probes on review.port, as compose and k8s expect
    monkeypatch.setenv("LABELSTREAM_REVIEW__OPS_PORT", "9403")
    assert load_settings().review.ops_port == 9403
    monkeypatch.setenv("LABELSTREAM_REVIEW__OPS_PORT", "9402")
    with pytest.raises(ConfigError, match=r"review\.ops_port \(9402\) must differ from review\.port"):
        load_settings()
