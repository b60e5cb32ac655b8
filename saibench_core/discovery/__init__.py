"""Discovery: plugins by entry point, modules described into a catalog."""

from .catalog import Broken as Broken
from .catalog import Catalog as Catalog
from .catalog import PluginInfo as PluginInfo
from .describe import Descriptor as Descriptor
from .describe import HyperParam as HyperParam
from .describe import Slot as Slot
from .describe import describe as describe
from .manager import ALLOW_ENV as ALLOW_ENV
from .manager import BLOCK_ENV as BLOCK_ENV
from .manager import ENTRY_POINT_GROUP as ENTRY_POINT_GROUP
from .manager import PluginManager as PluginManager
from .manager import load_catalog as load_catalog
