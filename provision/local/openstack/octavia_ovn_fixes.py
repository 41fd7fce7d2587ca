"""Two fixes of ovn-octavia-provider that Debian 12's 3.0.0 lacks and its stable/zed branch carries (3.1.x).

Written for stackgate's embedded lab, by wrapping the provider's helper, not by copying upstream's patches:
- LP #1999813: after a health monitor is created or deleted, Octavia leaves the pool's listeners in PENDING_UPDATE
  unless the provider reports them: hm_create/hm_delete now report them ACTIVE.
- LP #1997418: OVN applies a Load_Balancer_Health_Check to the one VIP it names; the provider names the fixed VIP
  only, so traffic through the VIP's floating IP still reaches a member that is down. A second health check, for
  the floating IP, is kept beside the first (made with the monitor, or when the floating IP is associated later).
Imported by octavia-api (uwsgi `import`) and octavia-driver-agent (its launcher) before the provider is loaded.
"""
from octavia_lib.common import constants as c
from ovn_octavia_provider.common import constants as oc
from ovn_octavia_provider import helper

FIP_OF_HM = 'stackgate:fip-of-healthmonitor'
H = helper.OvnProviderHelper


def _listeners(self, ovn_lb, pool_key, **status):
    """The pool's listeners reported ACTIVE (with any further status given), as Octavia awaits them."""
    return [{c.ID: lid, c.PROVISIONING_STATUS: c.ACTIVE, **status}
            for lid in self._get_pool_listeners(ovn_lb, pool_key)]


def _pool_listeners(self, pool_id):
    pool_key, ovn_lb = self._find_ovn_lb_by_pool_id(pool_id)
    if not ovn_lb or pool_key not in ovn_lb.external_ids:
        return []
    return _listeners(self, ovn_lb, pool_key, **{c.OPERATING_STATUS: c.ONLINE})


def _fip_checks(self, ovn_lb, hm_id=None):
    rows = self.ovn_nbdb_api.db_find_rows('Load_Balancer_Health_Check').execute(check_error=True)
    mine = [r for r in rows if FIP_OF_HM in r.external_ids]
    on_lb = {r.uuid for r in ovn_lb.health_check}
    return [r for r in mine if r.uuid in on_lb and (hm_id is None or r.external_ids[FIP_OF_HM] == hm_id)]


def _add_fip_checks(self, ovn_lb):
    fip = ovn_lb.external_ids.get(oc.LB_EXT_IDS_VIP_FIP_KEY)
    if not fip:
        return
    have = {r.vip for r in _fip_checks(self, ovn_lb)}
    for hc in list(ovn_lb.health_check):
        hm_id = hc.external_ids.get(oc.LB_EXT_IDS_HM_KEY)
        if not hm_id or not hc.vip or ':' not in hc.vip:
            continue
        vip = fip + ':' + hc.vip.rsplit(':', 1)[1]
        if vip in have:
            continue
        with self.ovn_nbdb_api.transaction(check_error=True) as txn:
            row = txn.add(self.ovn_nbdb_api.db_create(
                'Load_Balancer_Health_Check', vip=vip, options=dict(hc.options),
                external_ids={FIP_OF_HM: hm_id}))
            txn.add(self.ovn_nbdb_api.db_add('Load_Balancer', ovn_lb.uuid, 'health_check', row))


def _drop_fip_checks(self, ovn_lb, hm_id=None):
    for r in _fip_checks(self, ovn_lb, hm_id):
        self._execute_commands([
            self.ovn_nbdb_api.db_remove('Load_Balancer', ovn_lb.uuid, 'health_check', r.uuid),
            self.ovn_nbdb_api.db_destroy('Load_Balancer_Health_Check', r.uuid)])


_hm_create, _hm_update, _hm_delete, _vip_fip = H.hm_create, H.hm_update, H.hm_delete, H.handle_vip_fip


def hm_create(self, info):
    status = _hm_create(self, info)
    if any(p.get(c.PROVISIONING_STATUS) == c.ACTIVE for p in status.get(c.POOLS, [])):
        status[c.LISTENERS] = _pool_listeners(self, info[c.POOL_ID])
        _, ovn_lb = self._find_ovn_lb_by_pool_id(info[c.POOL_ID])
        if ovn_lb:
            _add_fip_checks(self, ovn_lb)
    return status


def hm_update(self, info):
    status = _hm_update(self, info)
    _, ovn_lb = self._find_ovn_lb_from_hm_id(info[c.ID])
    if ovn_lb:
        options = {k: str(info[k]) for k in ('interval', 'timeout', 'success_count', 'failure_count')}
        for r in _fip_checks(self, ovn_lb, info[c.ID]):
            self._execute_commands([
                self.ovn_nbdb_api.db_set('Load_Balancer_Health_Check', r.uuid, ('options', options))])
    return status


def hm_delete(self, info):
    # The request names the monitor only; the pool is found on the OVN load balancer, as the original does.
    _, ovn_lb = self._find_ovn_lb_from_hm_id(info[c.ID])
    listeners = []
    if ovn_lb:
        _drop_fip_checks(self, ovn_lb, info[c.ID])
        pool_key = next((k for k in ovn_lb.external_ids if k.startswith(oc.LB_EXT_IDS_POOL_PREFIX)), None)
        if pool_key:
            listeners = _listeners(self, ovn_lb, pool_key)
    status = _hm_delete(self, info)
    if listeners:
        status[c.LISTENERS] = listeners
    return status


def handle_vip_fip(self, fip_info):
    ovn_lb = fip_info['ovn_lb']
    if fip_info['action'] != oc.REQ_INFO_ACTION_ASSOCIATE:
        _drop_fip_checks(self, ovn_lb)
    _vip_fip(self, fip_info)
    if fip_info['action'] == oc.REQ_INFO_ACTION_ASSOCIATE:
        _add_fip_checks(self, ovn_lb)


H.hm_create, H.hm_update, H.hm_delete, H.handle_vip_fip = hm_create, hm_update, hm_delete, handle_vip_fip
