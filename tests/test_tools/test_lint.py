"""``make lint`` (tools/lint.sh): a planted problem fails with its file and
line; the pre-commit hooks run the pinned versions; CI runs the lint."""
import ast
import os
import os.path as osp
import re
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PACKAGE_FILE = 'lossmix_mm/mixing/rules.py'
TOOL_FILE = 'tools/plot_results.py'
MISSPELT = 'reci' + 'eve'  # split, or codespell flags this file


def run_lint(root, *paths):
    """tools/lint.sh in ``root`` (with the repository's setup.cfg)."""
    return subprocess.run(
        ['bash', osp.join(REPO, 'tools', 'lint.sh'), *paths],
        cwd=root,
        env=dict(os.environ, PY=sys.executable),
        capture_output=True,
        text=True,
        timeout=120)


def copy_files(tmp_path, *names):
    """The repository's setup.cfg and ``names`` under ``tmp_path``."""
    for name in ('setup.cfg', *names):
        os.makedirs(osp.dirname(tmp_path / name), exist_ok=True)
        shutil.copy(osp.join(REPO, name), tmp_path / name)


def insert_line(path, lineno, text):
    """Insert ``text`` as line ``lineno`` (1-based) of ``path``."""
    lines = open(path).read().split('\n')
    lines.insert(lineno - 1, text)
    open(path, 'w').write('\n'.join(lines))


def test_clean_files_pass(tmp_path):
    copy_files(tmp_path, PACKAGE_FILE, TOOL_FILE)
    out = run_lint(tmp_path, PACKAGE_FILE, TOOL_FILE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip() == 'lint: no problems'


def test_planted_problems_fail_with_file_and_line(tmp_path):
    copy_files(tmp_path, PACKAGE_FILE, TOOL_FILE)
    pkg, tool = tmp_path / PACKAGE_FILE, tmp_path / TOOL_FILE
    n_pkg = len(open(pkg).read().split('\n'))
    # a 150-column line at the end, then an unused import before the first
    # import
    import_line = ast.parse(open(pkg).read()).body[1].lineno
    insert_line(pkg, n_pkg, 'LONG = ' + repr('x' * 141))
    insert_line(pkg, import_line, 'import os')
    assert len(open(pkg).read().split('\n')[n_pkg]) == 150
    # the tool file: an import out of order, a bad layout, a misspelling
    text = open(tool).read()
    first_import = text.index('\nimport ') + 1
    open(tool, 'w').write(text[:first_import] + 'import sys\nimport abc\n' +
                          text[first_import:] + '\nx = [1,\n  2]  # ' +
                          MISSPELT + '\n')
    tool_import_line = text[:first_import].count('\n') + 1
    tool_lines = open(tool).read().split('\n')
    x_line = tool_lines.index('x = [1,') + 1

    out = run_lint(tmp_path, PACKAGE_FILE, TOOL_FILE)
    assert out.returncode == 1
    report = out.stdout + out.stderr
    assert (f"{PACKAGE_FILE}:{import_line}:1: F401 'os' imported but unused"
            in report)
    assert re.search(
        rf'{PACKAGE_FILE}:{n_pkg + 1}:80: E501 line too long \(150 > 79',
        report)
    assert f'{TOOL_FILE}:{tool_import_line}: isort:' in report
    assert f'{TOOL_FILE}:{x_line}: yapf:' in report
    assert f'{TOOL_FILE}:{x_line + 1}: {MISSPELT} ==> receive' in report
    assert 'lint: no problems' not in report


@pytest.fixture(scope='module')
def lint_pins():
    pins = {}
    for line in open(osp.join(REPO, 'requirements', 'lint.txt')):
        line = line.split('#', 1)[0].strip()
        if line:
            name, version = line.split('==')
            pins[name] = version
    return pins


def test_pre_commit_hooks_run_the_pinned_versions(lint_pins):
    with open(osp.join(REPO, '.pre-commit-config.yaml')) as f:
        cfg = yaml.safe_load(f)
    hooks = [hook for repo in cfg['repos'] for hook in repo['hooks']]
    assert [h['id'] for h in hooks] == ['flake8', 'isort', 'yapf', 'codespell']
    for hook in hooks:
        assert hook['additional_dependencies'] == [
            f'{hook["id"]}=={lint_pins[hook["id"]]}'
        ]
    installed = subprocess.run([sys.executable, '-m', 'pip', 'freeze'],
                               capture_output=True,
                               text=True).stdout.lower().replace('_',
                                                                 '-').split()
    for name, version in lint_pins.items():
        assert f'{name}=={version}' in installed, (name, version)


def test_ci_runs_lint_before_the_tests():
    steps = [
        line.strip() for line in open(osp.join(REPO, '.ci', 'run'))
        if line.strip().startswith('make')
    ]
    assert steps == ['make lint', 'make test']
    makefile = open(osp.join(REPO, 'Makefile')).read()
    assert re.search(r'^lint: setup\n\tPY=\$\(PY\) bash tools/lint.sh\n',
                     makefile, re.M)
    assert '-r lint.txt' in open(osp.join(REPO, 'requirements',
                                          'cpu.txt')).read()
