"""Tasks: the Task / TrialBatch contract, the timing engine, the task families and the registry."""

from ._adapters import CogTaskAdapter, NeurogymAdapter, from_cogtask, from_neurogym
from ._base import Task, TrialBatch, steps_of
from ._cddm import ContextDependentDecisionMaking
from ._copy import Copy
from ._decision import PerceptualDecisionMaking, decision_choice
from ._dms import DelayedMatchToSample
from ._flipflop import NBitFlipFlop
from ._integrator import Integrator
from ._memory_anti import MemoryAntiAngle, MemoryAntiNumber
from ._periods import TimedTask
from ._registry import get_task_class, list_tasks, make_task, register_task, task_from_config
from ._rule_reversal import RULE_PATTERNS, ClosedLoopTask, RuleReversal
from ._timing import Period, Timing
from ._yang import PERIODS, YANG_RULES, RingTask, YangMultitask, YangTask, popvec, ring_bump
from ._yang_rules import (
    DM1,
    DM2,
    ContextDelayDM1,
    ContextDelayDM2,
    ContextDM1,
    ContextDM2,
    DelayAnti,
    DelayDM1,
    DelayDM2,
    DelayGo,
    DMCGo,
    DMCNoGo,
    DMSGo,
    DMSNoGo,
    FdAnti,
    FdGo,
    MultiDelayDM,
    MultiDM,
    ReactAnti,
    ReactGo,
)
from ._yang_soo import SooA, SooB, SooC, SooTask

__all__ = [
    "Task", "TrialBatch", "steps_of", "Integrator", "Copy", "PerceptualDecisionMaking",
    "decision_choice", "ClosedLoopTask", "RuleReversal", "RULE_PATTERNS", "register_task", "get_task_class", "make_task", "task_from_config", "list_tasks",
]

# Yang et al. 2019 family and the Soo et al. 2023 structures (_yang*.py)
__all__ += [
    "RingTask", "YangTask", "YangMultitask", "YANG_RULES", "PERIODS", "ring_bump", "popvec",
    "FdGo", "ReactGo", "DelayGo", "FdAnti", "ReactAnti", "DelayAnti", "DM1", "DM2", "ContextDM1",
    "ContextDM2", "MultiDM", "DelayDM1", "DelayDM2", "ContextDelayDM1", "ContextDelayDM2",
    "MultiDelayDM", "DMSGo", "DMSNoGo", "DMCGo", "DMCNoGo", "SooTask", "SooA", "SooB", "SooC",
]

# tasks of the engellab/trainRNNbrain pipeline (_cddm, _dms, _flipflop, _memory_anti), the timing
# engine (_timing, _periods) and the adapters (_adapters)
__all__ += [
    "ContextDependentDecisionMaking", "DelayedMatchToSample", "NBitFlipFlop", "MemoryAntiNumber",
    "MemoryAntiAngle", "TimedTask", "Timing", "Period", "from_cogtask", "from_neurogym", "CogTaskAdapter",
    "NeurogymAdapter",
]
