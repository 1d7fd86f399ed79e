"""Province profiles: prefectures, brand mix, service penetrations and product stages.

The service mix follows CASES.md: P2P SMS and CRBT mature, the mobile newspaper growing,
mobile securities being introduced. Penetration is the target share of users holding
the service at the end of the data month.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dmkit import catalog

__all__ = ["Profile", "PROVINCES", "PRODUCT_STAGE", "BASE_PENETRATION", "SP_SERVICES"]

#: product lifecycle stage of each service (Y2): shapes starts, churn and the KPI curves.
PRODUCT_STAGE: dict[str, str] = {
    "sms_p2p": "maturity", "mms": "maturity", "crbt": "maturity", "music": "growth",
    "music_club": "growth", "full_song": "growth", "ringtone": "decline",
    "newspaper": "growth", "local_paper": "introduction", "fetion": "growth",
    "fetion_client": "growth", "mailbox": "growth", "mail_notify": "growth",
    "securities": "introduction", "wap": "maturity", "monternet_sms": "decline",
    "monternet_mms": "maturity", "kjava_games": "decline", "game_together": "introduction",
    "ivr": "decline", "secretary": "maturity", "gprs_package": "growth",
    "mobile_tv": "introduction", "mobile_video": "introduction", "mobile_map": "introduction",
    "mobile_payment": "introduction", "mobile_reading": "introduction", "weather": "maturity",
    "news_sms": "decline", "sports_news": "maturity", "english": "maturity",
    "contacts_backup": "growth", "missed_call": "maturity", "caller_id": "maturity",
    "family_plan": "maturity",
}

#: target penetration (share of users holding the service at the data month), Jiangsu level.
#: newspaper, mail_notify and fetion are set by the propensity rules instead (see propensity).
BASE_PENETRATION: dict[str, float] = {
    "sms_p2p": 0.90, "mms": 0.35, "crbt": 0.38, "music": 0.20, "music_club": 0.05,
    "full_song": 0.05, "ringtone": 0.08, "newspaper": 0.08, "local_paper": 0.03,
    "fetion": 0.10, "fetion_client": 0.035, "mailbox": 0.14, "mail_notify": 0.05,
    "securities": 0.01, "wap": 0.30, "monternet_sms": 0.18, "monternet_mms": 0.06,
    "kjava_games": 0.05, "game_together": 0.01, "ivr": 0.04, "secretary": 0.10,
    "gprs_package": 0.12, "mobile_tv": 0.01, "mobile_video": 0.015, "mobile_map": 0.02,
    "mobile_payment": 0.005, "mobile_reading": 0.012, "weather": 0.10, "news_sms": 0.08,
    "sports_news": 0.04, "english": 0.03, "contacts_backup": 0.06, "missed_call": 0.25,
    "caller_id": 0.70, "family_plan": 0.15,
}
assert set(BASE_PENETRATION) == set(catalog.SERVICES) == set(PRODUCT_STAGE)

#: services provided by SPs (service providers): their subscriptions carry an sp_id.
SP_SERVICES: tuple[str, ...] = (
    "monternet_sms", "monternet_mms", "ivr", "kjava_games", "english", "sports_news",
    "weather", "news_sms", "ringtone", "full_song",
)


@dataclass(frozen=True)
class Profile:
    """One province profile."""

    name: str
    code: str                      # short code used in campaign ids
    prefectures: tuple[str, ...]
    brand_mix: tuple[float, float, float]   # gotone, mzone, easyown
    data_multiplier: float         # scales data / new-service penetrations
    revenue_scale: float           # 2008 revenue lines = G1 (Guangzhou) x this
    stage_overrides: dict = field(default_factory=dict)

    @property
    def prefecture_weights(self) -> np.ndarray:
        """Zipf-like sizes, the capital (first) largest."""
        w = 1.0 / np.arange(1, len(self.prefectures) + 1) ** 0.8
        return w / w.sum()

    @property
    def product_stage(self) -> dict[str, str]:
        return {**PRODUCT_STAGE, **self.stage_overrides}

    @property
    def penetration(self) -> dict[str, float]:
        """Target penetration per service: base level, new services scaled by data_multiplier."""
        basic = {"sms_p2p", "caller_id", "missed_call", "family_plan", "secretary", "crbt"}
        out = {}
        for s, p in BASE_PENETRATION.items():
            out[s] = float(min(0.95, p if s in basic else p * self.data_multiplier))
        return out


_YUNNAN = ("Kunming", "Qujing", "Yuxi", "Honghe", "Dali", "Zhaotong", "Wenshan", "Chuxiong",
           "Baoshan", "Pu'er", "Lincang", "Lijiang", "Xishuangbanna", "Dehong", "Nujiang",
           "Diqing")
_JIANGSU = ("Nanjing", "Suzhou", "Wuxi", "Changzhou", "Nantong", "Xuzhou", "Yangzhou",
            "Yancheng", "Taizhou", "Zhenjiang", "Huai'an", "Lianyungang", "Suqian")
_GUANGDONG = ("Guangzhou", "Shenzhen", "Dongguan", "Foshan", "Shantou", "Zhuhai", "Huizhou",
              "Jiangmen", "Zhongshan", "Zhanjiang", "Maoming", "Zhaoqing", "Jieyang", "Meizhou",
              "Qingyuan", "Shaoguan", "Heyuan", "Yangjiang", "Chaozhou", "Shanwei", "Yunfu")
_NATIONAL = ("Guangdong", "Jiangsu", "Zhejiang", "Shandong", "Henan", "Sichuan", "Hebei",
             "Hubei", "Hunan", "Fujian", "Anhui", "Liaoning", "Beijing", "Shanghai", "Yunnan",
             "Guangxi", "Jiangxi", "Shaanxi", "Heilongjiang", "Shanxi", "Chongqing", "Jilin",
             "Inner Mongolia", "Guizhou", "Xinjiang", "Tianjin", "Gansu", "Hainan", "Ningxia",
             "Qinghai", "Tibet")

PROVINCES: dict[str, Profile] = {
    "yunnan": Profile("yunnan", "YN", _YUNNAN, (0.10, 0.25, 0.65), 0.8, 0.35),
    "jiangsu": Profile("jiangsu", "JS", _JIANGSU, (0.15, 0.30, 0.55), 1.0, 0.90),
    "guangdong": Profile("guangdong", "GD", _GUANGDONG, (0.18, 0.32, 0.50), 1.15, 1.00),
    "national": Profile("national", "CN", _NATIONAL, (0.13, 0.28, 0.59), 0.95, 12.0),
}
assert len(_YUNNAN) == 16 and len(_JIANGSU) == 13 and len(_GUANGDONG) == 21 and len(_NATIONAL) == 31
