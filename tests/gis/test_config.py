"""Where the service keeps its own files: a checkout keeps them in its var/, an installed package
in HROMADA_HOME or the folder it is started from — never in site-packages."""
from gis import config


def test_a_checkout_keeps_var_in_itself(monkeypatch):
    monkeypatch.delenv("HROMADA_HOME", raising=False)
    assert config.home_dir() == config.PROJECT_ROOT
    assert config.var_dir() == config.PROJECT_ROOT / "var"


def test_hromada_home_moves_var_and_the_shared_data(monkeypatch, tmp_path):
    monkeypatch.setenv("HROMADA_HOME", str(tmp_path / "site"))
    for name in ("HROMADA_PGDATA", "HROMADA_SHARED_DATA"):
        monkeypatch.delenv(name, raising=False)
    assert config.var_dir() == tmp_path / "site" / "var"
    assert config.pgdata_dir() == tmp_path / "site" / "var" / "postgres"
    assert config.shared_data_dir() == tmp_path / "shared" / "data"


def test_an_installed_package_uses_the_current_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("HROMADA_HOME", raising=False)
    monkeypatch.setattr(config, "PROJECT_ROOT", tmp_path / "site-packages")  # no pyproject.toml there
    monkeypatch.chdir(tmp_path)
    assert config.var_dir() == tmp_path / "var"
