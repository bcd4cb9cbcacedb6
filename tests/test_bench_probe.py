"""The benchmark's unauthenticated probe exists only when the benchmark turns it on."""

from conftest import auth_header, base_config, make_token

from tokenaudit import create_app


def test_bench_probe_is_absent_by_default(client, admin):
    assert client.get(f"/_bench/users/{admin.id}/me/").status_code == 404


def test_bench_probe_is_off_unless_the_environment_asks(monkeypatch, database_url):
    monkeypatch.delenv("TOKENAUDIT_BENCHMARK", raising=False)
    assert create_app(base_config(database_url)).config["BENCHMARK_ENDPOINTS"] is False


def test_bench_probe_renders_what_me_renders(monkeypatch, database_url, admin, client):
    monkeypatch.setenv("TOKENAUDIT_BENCHMARK", "1")
    bench_app = create_app(base_config(database_url))
    _token, value = make_token(admin)
    me = client.get("/api/v2/me/", headers=auth_header(value)).get_json()
    probe = bench_app.test_client().get(f"/_bench/users/{admin.id}/me/").get_json()
    assert probe == me
