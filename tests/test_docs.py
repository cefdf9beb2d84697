"""Doc check: README.md and docs/ are navigable and their commands valid.

Every docs page is reachable from README.md, every relative link resolves,
and every command of a shell code block (```bash, ```shell, ```sh or a bare
```) is checked without running it: make targets against the Makefile, tools
against their argument parsers (or their source), configs and other named
files against the tree, pytest paths and markers against the tests. A kind of
command the check does not know fails, so that it has to be taught here.
Blocks marked ```text (or with another non-shell language) are not checked.
"""
import configparser
import functools
import importlib.util
import re
import shlex
from pathlib import Path
from typing import Dict, Iterator, List, Sequence, Tuple
from unittest import mock

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / 'README.md'
SHELL_LANGS = ('bash', 'shell', 'sh', '')
OTHER_LANGS = ('text', 'python', 'json', 'yaml')
PYTHONS = ('python', 'python3', '.venv/bin/python')
# flags whose value is written, not read
OUTPUT_FLAGS = ('--work-dir', '--out', '--output-dir', '--plot', '--work-root')
# produced by an earlier command (training, data generation)
PRODUCED_DIRS = ('work_dirs/', 'data/')
PATH_PREFIXES = ('configs/', 'tools/', 'tests/', 'docs/', 'lossmix_mm/')
PATH_SUFFIXES = ('.py', '.json', '.sh', '.pth', '.pkl', '.md', '.png')
PLAIN_ENV = ('OMP_NUM_THREADS', 'CUDA_VISIBLE_DEVICES')
PYTEST_VALUE_OPTS = ('-m', '-k', '-p', '-c', '-o', '--deselect', '--maxfail',
                     '--rootdir', '--durations')

# bash tools/<script>: its positional arguments (config: an existing config;
# ckpt: a checkpoint; int; word; out: an output path) and the python tools
# that receive the remaining options, with the arguments they get.
SHELL_TOOLS = {
    'dist_train.sh': (('config', 'int'), (('train.py', (0, )), )),
    'dist_test.sh': (('config', 'ckpt', 'int'), (('test.py', (0, 1)), )),
    'slurm_train.sh': (('word', 'word', 'config', 'out'),
                       (('train.py', (2, '--work-dir', 3)), )),
    'slurm_test.sh':
    (('word', 'word', 'config', 'ckpt'), (('test.py', (2, 3)), )),
    'run_cpu_default.sh':
    (('config', 'out'), (('train.py', (0, '--work-dir', 1)),
                         ('test.py', (0, 'CKPT', '--work-dir', 1)))),
    'gpu_check.sh': ((), ()),
    'setup_cpu.sh': ((), ()),
}


class DocError(AssertionError):
    """A problem found in README.md or docs/."""


# ---------------------------------------------------------------- parsing


def doc_files() -> List[Path]:
    """README.md and every .md page under docs/, recursively."""
    return [README] + sorted((ROOT / 'docs').rglob('*.md'))


def split_fences(text: str) -> Tuple[List[Tuple[int, str]], list]:
    """Prose lines and fenced code blocks of a markdown text.

    Returns:
        tuple: [(line number, prose line)] and [(language, first line
        number, [block lines])].
    """
    prose, blocks, block = [], [], None
    for num, line in enumerate(text.splitlines(), 1):
        fence = re.match(r'\s*(```+|~~~+)\s*([\w+-]*)', line)
        if block is None and fence:
            block = (fence.group(2).lower(), num + 1, [])
        elif block is not None and fence and not fence.group(2):
            blocks.append(block)
            block = None
        elif block is not None:
            block[2].append(line)
        else:
            prose.append((num, line))
    if block is not None:
        raise DocError(f'unclosed code block at line {block[1] - 1}')
    return prose, blocks


def links(text: str) -> Iterator[Tuple[int, str]]:
    """(line number, target) of every markdown link and image in prose."""
    prose, _ = split_fences(text)
    for num, line in prose:
        line = re.sub(r'`[^`]*`', '', line)
        for match in re.finditer(r'!?\[[^\]]*\]\(([^)\s]+)', line):
            yield num, match.group(1)


def heading_anchors(text: str) -> set:
    """GitHub-style anchors of the headings of a markdown text."""
    prose, _ = split_fences(text)
    anchors = set()
    for _, line in prose:
        match = re.match(r'#{1,6}\s+(.*)', line)
        if match:
            title = re.sub(r'[^\w\- ]', '', match.group(1).lower())
            anchors.add(title.replace(' ', '-'))
    return anchors


def resolve_link(page: Path, target: str) -> Path:
    """The file a relative link points to; DocError if it is missing."""
    path, _, anchor = target.partition('#')
    dest = (page.parent / path).resolve() if path else page
    if not dest.exists():
        raise DocError(f'{target!r}: no file {dest}')
    if anchor and dest.suffix == '.md' and \
            anchor not in heading_anchors(dest.read_text()):
        raise DocError(f'{target!r}: no heading #{anchor} in {dest.name}')
    return dest


def is_external(target: str) -> bool:
    return re.match(r'[a-z]+:', target) is not None


def shell_commands(text: str) -> Iterator[Tuple[int, str, Dict]]:
    """(line number, command, variables) of every shell block's command.

    Continuation lines are joined; ``NAME=value`` lines set variables for
    the rest of their block.
    """
    _, blocks = split_fences(text)
    for lang, first, lines in blocks:
        if lang in OTHER_LANGS:
            continue
        if lang not in SHELL_LANGS:
            raise DocError(f'line {first - 1}: code block language {lang!r}'
                           f' unknown to the doc check: use one of '
                           f'{SHELL_LANGS + OTHER_LANGS}')
        vars_, pending, start = {}, '', first
        for num, line in enumerate(lines, first):
            if not pending:
                start = num
            pending += line
            if pending.endswith('\\'):
                pending = pending[:-1] + ' '
                continue
            tokens = shlex.split(pending, comments=True)
            if tokens:
                yield start, pending, dict(vars_)
            if tokens and all(re.match(r'[A-Za-z_]\w*=', t) for t in tokens):
                for token in tokens:
                    name, _, value = token.partition('=')
                    vars_[name] = expand(value, vars_)
            pending = ''


# --------------------------------------------------------------- commands


def expand(token: str, vars_: Dict[str, str]) -> str:
    """``$NAME`` / ``${NAME}`` replaced from the block's variables."""

    def sub(match):
        name = match.group(1) or match.group(2)
        if name not in vars_:
            raise DocError(f'${name} is not set earlier in the block')
        return vars_[name]

    return re.sub(r'\$(\w+)|\$\{(\w+)\}', sub, token)


def split_chain(tokens: Sequence[str]) -> List[List[str]]:
    """Commands of a ``&&`` / ``;`` chain; pipes are not supported."""
    chain, current = [], []
    for token in tokens:
        if token in ('&&', ';'):
            chain.append(current)
            current = []
        elif token in ('|', '||', '>', '>>'):
            raise DocError(f'{token!r} is not supported by the doc check')
        else:
            current.append(token)
    return chain + [current]


def check_line(line: str, vars_: Dict[str, str]) -> None:
    """Check one shell line; its variable assignments go to ``vars_``."""
    tokens = [expand(t, vars_) for t in shlex.split(line, comments=True)]
    for command in split_chain(tokens):
        env = {}
        while command and re.match(r'[A-Za-z_]\w*=', command[0]):
            name, _, value = command.pop(0).partition('=')
            env[name] = value
        if not command:
            vars_.update(env)
            continue
        for name in env:
            if name not in env_names():
                raise DocError(f'environment variable {name} is read by no '
                               'tool')
        check_command(command)


def check_command(cmd: List[str]) -> None:
    """Dispatch one command (no environment prefix) to its check."""
    head = cmd[0]
    if head == 'make':
        check_make(cmd[1:])
    elif head in PYTHONS and cmd[1:3] == ['-m', 'pytest']:
        check_pytest(cmd[3:])
    elif head == 'pytest':
        check_pytest(cmd[1:])
    elif head in PYTHONS and len(cmd) > 1 and cmd[1].startswith('tools/'):
        check_python_tool(cmd[1], cmd[2:])
    elif head == 'bash' and len(cmd) > 1 and cmd[1].startswith('tools/'):
        check_shell_tool(cmd[1], cmd[2:])
    elif head == 'mim':
        check_mim(cmd[1:])
    elif head in ('pre-commit', '.venv/bin/pre-commit'):
        check_pre_commit(cmd[1:])
    elif head == 'pip' and cmd[1:2] == ['install']:
        check_install(cmd[2:])
    else:
        raise DocError(f'unknown kind of command {shlex.join(cmd)!r}: teach '
                       'tests/test_docs.py to check it')


def check_pre_commit(args: Sequence[str]) -> None:
    """``pre-commit install`` / ``run``: the tool is pinned for the set-up
    and the repository has its config."""
    if args[:1] not in (['install'], ['run']):
        raise DocError(f'pre-commit {shlex.join(args)!r}: only install and '
                       'run are checked')
    if not (ROOT / '.pre-commit-config.yaml').is_file():
        raise DocError('no .pre-commit-config.yaml')
    if 'pre-commit==' not in (ROOT / 'requirements' / 'lint.txt').read_text():
        raise DocError('pre-commit is not pinned in requirements/lint.txt')


def looks_like_path(token: str) -> bool:
    return not token.startswith('-') and '=' not in token and (
        token.startswith(PATH_PREFIXES + PRODUCED_DIRS)
        or token.endswith(PATH_SUFFIXES))


def check_paths(args: Sequence[str]) -> None:
    """Every path-looking argument exists, unless it is written."""
    for i, arg in enumerate(args):
        if not looks_like_path(arg) or arg.startswith(PRODUCED_DIRS):
            continue
        if i > 0 and args[i - 1] in OUTPUT_FLAGS:
            continue
        if not (ROOT / arg).exists():
            raise DocError(f'{arg}: no such file or folder')


def check_config(path: str) -> None:
    if not (path.startswith('configs/') and path.endswith('.py') and
            (ROOT / path).is_file()):
        raise DocError(f'{path}: not a config file under configs/')


def check_make(args: Sequence[str]) -> None:
    """``make [TARGET ...] [VAR=value ...]`` against the Makefile."""
    text = (ROOT / 'Makefile').read_text()
    targets = set(re.findall(r'^(\w[\w.-]*)\s*:(?!=)', text, re.M))
    variables = set(re.findall(r'^(\w+)\s*[?:+]?=', text, re.M))
    for arg in args:
        name, eq, value = arg.partition('=')
        if eq and name not in variables:
            raise DocError(f'make variable {name} is not in the Makefile '
                           f'({sorted(variables)})')
        if eq:
            check_paths([value])
        elif arg not in targets:
            raise DocError(f'make target {arg!r} is not in the Makefile '
                           f'({sorted(targets)})')


def check_pytest(args: Sequence[str]) -> None:
    """Test paths exist; markers of ``-m`` are declared in pytest.ini."""
    for i, arg in enumerate(args):
        after = args[i - 1] if i else ''
        if after == '-m':
            check_markers(arg)
        elif arg.startswith('-') or after in PYTEST_VALUE_OPTS:
            continue
        elif not (ROOT / arg.split('::')[0]).exists():
            raise DocError(f'pytest path {arg}: no such file or folder')


def check_markers(expr: str) -> None:
    ini = configparser.ConfigParser()
    ini.read(ROOT / 'pytest.ini')
    declared = {
        line.split(':')[0].strip()
        for line in ini.get('pytest', 'markers', fallback='').splitlines()
    }
    for word in re.findall(r'\w+', expr):
        if word not in ('and', 'or', 'not') and word not in declared:
            raise DocError(f'pytest marker {word!r} is not declared in '
                           'pytest.ini')


@functools.lru_cache(maxsize=None)
def tool_module(script: str):
    """The module of ``tools/<script>`` (imported once)."""
    path = ROOT / 'tools' / script
    spec = importlib.util.spec_from_file_location(f'docs_check_{path.stem}',
                                                  path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_python_tool(script: str, args: Sequence[str]) -> None:
    """``python tools/X.py ARGS``: the script exists, its parser takes ARGS
    (or, without a ``parse_args``, every flag is in its source)."""
    path = ROOT / script
    if not path.is_file() or path.suffix != '.py':
        raise DocError(f'{script}: no such tool')
    check_paths(args)
    module = tool_module(path.name)
    if not hasattr(module, 'parse_args'):
        check_flags_in_source(args, [path])
        return
    try:
        # the doc's commands are checked as a GPU machine would take them
        with mock.patch('torch.cuda.is_available', return_value=True):
            module.parse_args(list(args))
    except SystemExit as exc:
        raise DocError(f'{script} refuses {shlex.join(args)!r} '
                       f'(exit {exc.code})') from None


def check_flags_in_source(args: Sequence[str], sources: List[Path]) -> None:
    text = ''.join(p.read_text() for p in sources)
    for arg in args:
        flag = arg.split('=')[0]
        if flag.startswith('-') and not re.search(
                re.escape(flag) + r'(?![\w-])', text):
            raise DocError(f'{flag} is not an option of '
                           f'{[p.name for p in sources]}')


def check_shell_tool(script: str, args: Sequence[str]) -> None:
    """``bash tools/X.sh ARGS`` against ``SHELL_TOOLS``."""
    name = Path(script).name
    if not (ROOT / script).is_file() or name not in SHELL_TOOLS:
        raise DocError(f'{script}: not a shell tool known to the doc check')
    kinds, forwards = SHELL_TOOLS[name]
    if len(args) < len(kinds):
        raise DocError(f'{script} needs {len(kinds)} arguments {kinds}, got '
                       f'{list(args)}')
    positional, rest = list(args[:len(kinds)]), list(args[len(kinds):])
    for kind, value in zip(kinds, positional):
        if kind == 'config':
            check_config(value)
        elif kind == 'int' and not value.isdigit():
            raise DocError(f'{script}: {value!r} is not a count of GPUs')
        elif kind == 'ckpt':
            check_paths([value])
    for tool, layout in forwards:
        argv = [positional[i] if isinstance(i, int) else i for i in layout]
        check_python_tool(f'tools/{tool}', argv + rest)
    if not forwards:
        check_paths(rest)
        check_flags_in_source(rest, [ROOT / script])


def check_mim(args: Sequence[str]) -> None:
    """``mim train|test mmdet CONFIG``, ``mim run mmdet browse_dataset
    CONFIG``, ``mim install SPEC``."""
    if args[:1] == ['install']:
        check_install(args[1:])
    elif args[:2] in (['train', 'mmdet'], ['test', 'mmdet']):
        check_config(args[2])
        check_paths(args[3:])
        check_flags_in_source(args[3:], [mim_source(args[0])])
    elif args[:3] == ['run', 'mmdet', 'browse_dataset']:
        check_config(args[3])
        check_flags_in_source(args[4:], [mmdet_tool('browse_dataset.py')])
    else:
        raise DocError(f'mim {shlex.join(args)!r} is unknown to the doc '
                       'check')


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise DocError(f'{name} is not installed: run make setup')
    return Path(spec.origin).parent


def mim_source(command: str) -> Path:
    return package_dir('mim') / 'commands' / f'{command}.py'


def mmdet_tool(name: str) -> Path:
    found = sorted((package_dir('mmdet') / '.mim' / 'tools').rglob(name))
    if not found:
        raise DocError(f'mmdet has no tool {name}')
    return found[0]


def check_install(args: Sequence[str]) -> None:
    """``pip install`` / ``mim install``: local paths exist, requirements
    parse."""
    from packaging.requirements import InvalidRequirement, Requirement
    for i, arg in enumerate(args):
        after = args[i - 1] if i else ''
        if arg in ('-U', '--upgrade', '-e', '-r'):
            continue
        if after == '-e' and not (ROOT / arg / 'setup.py').is_file():
            raise DocError(f'pip install -e {arg}: no setup.py there')
        elif after == '-r' and not (ROOT / arg).is_file():
            raise DocError(f'pip install -r {arg}: no such file')
        elif after not in ('-e', '-r'):
            try:
                Requirement(arg)
            except InvalidRequirement as exc:
                raise DocError(f'{arg!r}: {exc}') from None


@functools.lru_cache(maxsize=None)
def env_names() -> frozenset:
    """Environment variables that the tools or the tests read."""
    sources = list((ROOT / 'tools').glob('*.sh'))
    sources.append(ROOT / 'tests' / 'conftest.py')
    text = ''.join(p.read_text() for p in sources)
    return frozenset(
        set(re.findall(r'\b([A-Z][A-Z0-9_]+)\b', text))
        | set(PLAIN_ENV))


# ------------------------------------------------------------------ tests


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _commands():
    for page in doc_files():
        for num, line, vars_ in shell_commands(page.read_text()):
            yield pytest.param(line, vars_, id=f'{_rel(page)}:{num}')


@pytest.mark.parametrize('page', doc_files(), ids=_rel)
def test_links_resolve(page):
    for num, target in links(page.read_text()):
        if is_external(target):
            continue
        try:
            resolve_link(page, target)
        except DocError as exc:
            raise DocError(f'{_rel(page)}:{num}: {exc}') from None


def test_every_page_reachable_from_readme():
    seen, todo = {README}, [README]
    while todo:
        page = todo.pop()
        for _, target in links(page.read_text()):
            if is_external(target) or target.startswith('#'):
                continue
            dest = resolve_link(page, target)
            if dest.suffix == '.md' and dest not in seen:
                seen.add(dest)
                todo.append(dest)
    missing = [_rel(p) for p in doc_files() if p not in seen]
    assert not missing, f'pages no link from README.md leads to: {missing}'


def test_readme_length():
    assert len(README.read_text().splitlines()) <= 210


@pytest.mark.parametrize('line,vars_', list(_commands()))
def test_command(line, vars_):
    check_line(line, vars_)


# the check itself must fail on what it is meant to catch
@pytest.mark.parametrize('line', [
    'rm -rf work_dirs',
    'make no-such-target',
    'make demo NO_SUCH_VAR=1',
    '.venv/bin/pre-commit autoupdate',
    'python tools/no_such_tool.py',
    'python tools/train.py configs/toy/no_such_config.py',
    'python tools/train.py configs/toy/faster-rcnn_r18_fpn_1xb4-800it_toy.py'
    ' --no-such-flag',
    'python tools/quality_study.py --plot-only docs/no_such_study.json',
    'bash tools/dist_train.sh configs/toy/no_such_config.py 1',
    'bash tools/dist_train.sh '
    'configs/toy/faster-rcnn_r18_fpn_1xb4-800it_toy.py eight',
    'bash tools/gpu_check.sh --no-such-flag',
    'mim train mmdet configs/toy/no_such_config.py',
    'python -m pytest tests/no_such_test.py',
    'python -m pytest tests -m no_such_marker',
    'NO_SUCH_ENV=1 bash tools/setup_cpu.sh',
    'python tools/train.py $UNSET/config.py',
])
def test_check_refuses(line):
    with pytest.raises(DocError):
        check_line(line, {})


def test_check_accepts_and_links():
    text = ('# A b: `c`\n```bash\nC=configs/toy\n'
            'bash tools/dist_train.sh $C/retinanet_r18_fpn_1xb4-800it_toy.py '
            '2 --resume\n```\n[x](y.md)\n```text\n[z](w)\n```\n')
    assert heading_anchors(text) == {'a-b-c'}
    assert list(links(text)) == [(6, 'y.md')]
    commands = list(shell_commands(text))
    assert [(num, vars_) for num, _, vars_ in commands] == [(3, {}),
                                                            (4, {
                                                                'C':
                                                                'configs/toy'
                                                            })]
    for _, line, vars_ in commands:
        check_line(line, vars_)
    with pytest.raises(DocError):
        resolve_link(README, 'docs/no_such_page.md')
    with pytest.raises(DocError):
        resolve_link(README, '#no-such-heading')


def test_python_blocks_compile():
    for page in doc_files():
        for lang, first, lines in split_fences(page.read_text())[1]:
            if lang == 'python':
                compile('\n'.join(lines), f'{_rel(page)}:{first}', 'exec')


def test_changelog_starts_at_the_current_version():
    """The change log's newest entry is the package's version, and each
    entry is a version older than the one above it."""
    version = re.search(r"__version__ = '([^']+)'",
                        (ROOT / 'lossmix_mm' / 'version.py').read_text())[1]
    entries = re.findall(r'^## (\d+\.\d+\.\d+) \(\d{4}-\d\d-\d\d\)$',
                         (ROOT / 'docs' / 'changelog.md').read_text(), re.M)
    assert entries[0] == version
    as_tuples = [tuple(map(int, e.split('.'))) for e in entries]
    assert as_tuples == sorted(as_tuples, reverse=True)
    assert len(set(entries)) == len(entries)
