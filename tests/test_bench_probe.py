"""The benchmark's probe exists only in the benchmark's own app, and does /me/'s lookup work."""

from conftest import auth_header, base_config, make_token

from bench.app import create_bench_app
from tokenaudit import create_app


def test_the_product_never_has_the_probe_whatever_the_environment(monkeypatch, database_url, admin):
    token, _value = make_token(admin)
    # The switch that used to turn it on in the product's own app.
    monkeypatch.setenv("TOKENAUDIT_BENCHMARK", "1")
    product = create_app(base_config(database_url)).test_client()
    assert product.get(f"/_bench/tokens/{token.prefix}/me/").status_code == 404
    assert not [rule for rule in product.application.url_map.iter_rules() if "_bench" in str(rule)]


def test_the_probe_renders_what_me_renders_for_the_same_token(database_url, admin, client):
    token, value = make_token(admin)
    me = client.get("/api/v2/me/", headers=auth_header(value)).get_json()
    bench = create_bench_app(base_config(database_url)).test_client()
    assert bench.get(f"/_bench/tokens/{token.prefix}/me/").get_json() == me
    assert bench.get("/_bench/tokens/tka_Nonexist/me/").status_code == 404
