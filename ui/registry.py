"""The one page registry: navigation, the home-page cards and the tests read it.

A topic is registered only when its page works (no placeholders). Titles and
hooks come from the locale files: `<key>.title`, `<key>.hook`; section names
from `sections.<section>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SECTIONS: tuple[str, ...] = ("basics", "cnn", "sequence", "generative", "rl", "post_training")


@dataclass(frozen=True)
class PageSpec:
    key: str  # locale table and test id
    file: str  # path from the repo root
    section: str  # one of SECTIONS
    icon: str  # Material icon, ":material/name:"
    url_path: str  # the page's URL path


HOME = PageSpec("home", "pages/home.py", "", ":material/home:", "home")

# Order within a section is the teaching order.
PAGES: list[PageSpec] = [
    PageSpec("perceptron", "pages/perceptron.py", "basics", ":material/linear_scale:", "perceptron"),
    PageSpec("activations", "pages/activations.py", "basics", ":material/show_chart:", "activations"),
    PageSpec("discrete_metric", "pages/discrete_metric.py", "basics", ":material/target:", "discrete_metric"),
    PageSpec(
        "receptive_field",
        "pages/receptive_field.py",
        "cnn",
        ":material/filter_center_focus:",
        "receptive_field",
    ),
    PageSpec("transformer_vs_rnn", "pages/transformer_vs_rnn.py", "sequence", ":material/timeline:", "transformer_vs_rnn"),
    PageSpec("transformer", "pages/transformer.py", "sequence", ":material/hub:", "transformer"),
    PageSpec("online_action", "pages/online_action.py", "sequence", ":material/videocam:", "online_action"),
    PageSpec("diffusion", "pages/diffusion.py", "generative", ":material/blur_on:", "diffusion"),
    PageSpec("rl_basics", "pages/rl_basics.py", "rl", ":material/smart_toy:", "rl_basics"),
    PageSpec("gridworld", "pages/gridworld.py", "rl", ":material/grid_on:", "gridworld"),
    PageSpec("monte_carlo", "pages/monte_carlo.py", "rl", ":material/casino:", "monte_carlo"),
    PageSpec("robbins_monro", "pages/robbins_monro.py", "rl", ":material/trending_down:", "robbins_monro"),
    PageSpec("grpo", "pages/grpo.py", "post_training", ":material/psychology:", "grpo"),
    PageSpec("post_training", "pages/post_training.py", "post_training", ":material/account_tree:", "post_training"),
]


def by_key(key: str) -> PageSpec:
    for spec in [HOME, *PAGES]:
        if spec.key == key:
            return spec
    raise KeyError(key)


def by_section() -> dict[str, list[PageSpec]]:
    """Registered pages grouped by section, sections in teaching order, empty ones left out."""
    groups = {s: [p for p in PAGES if p.section == s] for s in SECTIONS}
    return {s: ps for s, ps in groups.items() if ps}
