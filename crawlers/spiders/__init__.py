"""One spider per platform, plus the generic link spider. ``SPIDERS`` maps platform names to them."""

from crawlers.spiders.github import GitHubSpider
from crawlers.spiders.linkedin import LinkedInSpider
from crawlers.spiders.links import LinkSpider
from crawlers.spiders.medium import MediumSpider
from crawlers.spiders.substack import SubstackSpider

SPIDERS = {
    spider.platform: spider for spider in (MediumSpider, SubstackSpider, GitHubSpider, LinkedInSpider, LinkSpider)
}
