// The page served at `/` (the full dashboard is issue 7: this one shows the town's figures).
#include "http/views.hpp"

namespace gridloop::http {

const std::string& dashboard_page() {
    static const std::string page = R"HTML(<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>gridloop</title>
<style>
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
.tiles{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.5rem}
.tile{border:1px solid #ccc;border-radius:.4rem;padding:.5rem}.tile b{font-size:1.4rem;display:block}
#err{color:#b00}
</style></head><body>
<h1>gridloop 网格治理</h1>
<p><label>Token <input id="token" size="40" placeholder="Bearer token"></label> <button id="go">Load</button> <span id="err"></span></p>
<div class="tiles" id="tiles"></div>
<script>
const rate = v => v === null ? '—' : (v * 100).toFixed(1) + '%';
async function load() {
  const token = document.getElementById('token').value.trim();
  localStorage.setItem('gridloop-token', token);
  const h = token ? {Authorization: 'Bearer ' + token} : {};
  try {
    const grids = await (await fetch('/v1/grids', {headers: h})).json();
    const root = grids.grids[0].grid_id;
    const s = await (await fetch('/v1/grids/' + root + '/stats', {headers: h})).json();
    const tiles = [['reported 上报', s.reported], ['closure 办结率', rate(s.closure_rate)], ['solve 解决率', rate(s.solve_rate)],
      ['on time 按时办结率', rate(s.on_time_rate)], ['satisfaction 满意率', rate(s.satisfaction_rate)],
      ['reopen 重办率', rate(s.reopen_rate)], ['in grid 网格内解决', rate(s.in_grid_rate)], ['open 在办', s.open], ['overdue 超时', s.overdue]];
    document.getElementById('tiles').innerHTML = tiles.map(([k, v]) => `<div class="tile">${k}<b>${v}</b></div>`).join('');
    document.getElementById('err').textContent = '';
  } catch (e) { document.getElementById('err').textContent = 'cannot load: ' + e; }
}
document.getElementById('token').value = localStorage.getItem('gridloop-token') || '';
document.getElementById('go').onclick = load;
load();
</script></body></html>
)HTML";
    return page;
}

} // namespace gridloop::http
