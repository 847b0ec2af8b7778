"""Thermal network: cold plates, coolant legs, radiator panels and the dies on the plates.

Owns the linear thermal state and its solve: per cold plate (heat capacity J/K, UA to the
coolant W/K), per loop a hot leg (return, to the radiators) and a cold leg (supply, to the
plates), the radiator panels (their parameters are the radiators'), and the die of every
built-in compute slot (its temperature, K). One step is one backward-Euler step of the
network with the dies' exact exponential step toward their plate's new temperature folded
in (``T' = A·z``; the exchange implicit in the plate, so a plate whose loop is dry is stable
at any step), then the panels' emission (operator splitting, done by the radiators).

Settled start: :meth:`settle_periodic` brings the network onto its periodic orbit for
constant loads (from :meth:`steady_state_k` on the orbit-averaged inputs, whole orbits at
coarse then fine steps with Aitken extrapolation); the spacecraft calls it at construction
(``thermal.settle_at_start``).

Parasitic paths: every node also loses heat to the bus structure (a fixed sink at
``structure.temp_k``): plates and coolant legs by conduction G and radiation εσA·(T⁴ − T_s⁴),
panels by the conduction of their hinge (their emission to space is the radiators'). The
radiation is linearised on its tangent at the temperatures of the last coefficient refresh,
renewed when a node strays (see :meth:`refresh_coeffs`, :meth:`_check_parasitic`), so nothing
heats without bound when a loop's flow stops and a settled node sits on the closed-form
equilibrium of its paths (``hwsim.model.thermal.parasitic_equilibrium_temp_k``).

Inputs:

- construction: the plates' config, the :class:`~hwsim.subsystems.loops.Loops` and the
  :class:`~hwsim.subsystems.radiators.Radiators` (read through their public attributes:
  flow, c_p, inventory, pump heat; panel parameters, absorbed-environment coefficients), the
  plate of each compute slot and the dies' initial temperatures;
- :meth:`refresh_coeffs` (step s, and per die R K/W, C J/K, the mask of dies stepped here,
  served power W) when flows, inventory, board resistance, the step, a radiator valve or a
  panel's heat capacity (trapped coolant leaking out) change; the loop's flow splits over its
  open panels (``panel_flow_split_kg_s``), an isolated panel exchanges nothing with the
  coolant;
- :meth:`set_die_power` (per die served power W) when it changes;
- :meth:`step` (step s, the Sun's illuminated fraction, cos β·cos u, and the heat each plate
  receives from plug-in boards, W).

Outputs (public): ``plate_temp_k``, ``return_temp_k`` (hot legs), ``supply_temp_k`` (cold
legs) — views of the state vector ``z`` — and ``die_temp_k`` (computed when read);
:meth:`loop_heat_w`, :meth:`stored_energy_j`; :meth:`dies_above` for the thermal-shutdown
test; ``stale`` (the parasitic linearisation wants a refresh_coeffs before the next step);
:meth:`take_parasitic_j` and :meth:`take_lost_coolant_j` for the spacecraft's heat ledger;
``parasitic_g_w_per_k``/``parasitic_source_w`` (the linearised paths, P = g·T − s).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from hwsim.config import ColdPlateConfig
from hwsim.model.constants import SIGMA_W_M2_K4
from hwsim.model.fluid import panel_flow_split_kg_s
from hwsim.model.thermal import (
    board_die_decay,
    coolant_network_matrix,
    hx_conductance_w_per_k,
    implicit_network_operator,
    steady_state_network_k,
)
from hwsim.subsystems.loops import Loops
from hwsim.subsystems.radiators import Radiators

__all__ = ["ThermalNetwork"]


class ThermalNetwork:
    """The spacecraft's thermal network (see the module doc)."""

    LAZY_MAX_CLASSES = 32
    """Die classes up to which the dies are carried by class (see _layout_state)."""

    def __init__(
        self,
        plates: Sequence[ColdPlateConfig],
        loops: Loops,
        radiators: Radiators,
        initial_coolant_k: np.ndarray,
        structure_temp_k: float = 290.0,
    ) -> None:
        self._loops = loops
        self._radiators = radiators
        self.plate_ids = [p.plate_id for p in plates]
        self.plate_index = {p: i for i, p in enumerate(self.plate_ids)}
        self.plate_loop = np.array([loops.loop_index[p.loop_id] for p in plates])
        self._cp_c = np.array([p.thermal_mass_j_per_k for p in plates])
        self._cp_ua = np.array([p.ua_w_per_k for p in plates])
        nl = len(loops.loop_ids)
        self._nl = nl
        self._cp_per_loop = np.bincount(self.plate_loop, minlength=nl).astype(float)
        self._rp_loop = radiators.loop
        self._env = radiators.include_environment
        supply = np.array(initial_coolant_k, dtype=float)
        plate_t = supply[self.plate_loop].copy()
        # small thermal nodes in one vector (plates, hot legs, panels, cold legs); the first
        # refresh_coeffs moves it, with the dies, into the state vector z, the named arrays
        # being views
        self._tn = np.concatenate([plate_t, supply.copy(), radiators.temp_k, supply])
        self.plate_temp_k = self._tn[: len(plates)]
        self.return_temp_k = self._tn[len(plates) : len(plates) + nl]
        self.supply_temp_k = self._tn[len(self._tn) - nl :]
        self._tn_c = np.zeros(len(self._tn))
        self.dt_s = -1.0
        self.qconst_dirty = True
        self._init_parasitic(plates, structure_temp_k)

    def _init_parasitic(self, plates: Sequence[ColdPlateConfig], structure_temp_k: float) -> None:
        """Every node's parasitic path to the structure (see the module doc, "Parasitic
        paths"): conduction G (W/K) and radiation εσA (W/K⁴) with the structure as the sink."""
        lines = self._loops.config
        line_g = [lp.line_structure_conductance_w_per_k for lp in lines]
        line_k = [lp.line_emissivity * SIGMA_W_M2_K4 * lp.line_radiating_area_m2 for lp in lines]
        n_k = len(self._radiators.panel_ids)
        self.structure_temp_k = float(structure_temp_k)
        self.parasitic_conductance_w_per_k = np.concatenate(
            [
                [p.structure_conductance_w_per_k for p in plates],
                line_g,
                self._radiators.structure_conductance_w_per_k,
                line_g,
            ]
        )
        self.parasitic_emission_w_per_k4 = np.concatenate(
            [
                [p.emissivity * SIGMA_W_M2_K4 * p.radiating_area_m2 for p in plates],
                line_k,
                np.zeros(n_k),  # a panel's emission (to space) is the radiators' own
                line_k,
            ]
        )
        # the radiating nodes, whose linearisation point is watched (see _check_parasitic)
        self._par_ix = np.flatnonzero(self.parasitic_emission_w_per_k4 > 0.0)
        self._par_ref_k = self._tn.copy()
        self.parasitic_g_w_per_k = self.parasitic_conductance_w_per_k.copy()
        self.parasitic_source_w = self.parasitic_g_w_per_k * self.structure_temp_k
        self._par_check_every = 60
        self._par_check_in = 60
        self._par_checks = 0
        self._par_pending_j = 0.0
        self._lost_coolant_j = 0.0
        self.stale = False

    def bind_dies(self, die_plate: np.ndarray, die_temp_k: np.ndarray) -> None:
        """The dies (one per compute slot): their plate and initial temperature."""
        self.die_plate = die_plate
        n_p, n_l, n_k = len(self.plate_ids), self._nl, len(self._radiators.panel_ids)
        self._n_plates = n_p
        self._n_net = n_p + 2 * n_l + n_k
        self._n_head = self._n_net + 1  # the nodes, then the parasitic-energy accumulator
        self._panel_sl = slice(n_p + n_l, n_p + n_l + n_k)
        self._lazy = False
        self._die_view = np.array(die_temp_k, dtype=float)
        self.z = np.zeros(0)
        self._cls_key: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.qconst_dirty = True
        # upper bounds for the thermal-shutdown test (see dies_above)
        self._die_max_bound = math.inf
        self._pr_max = 0.0
        n = len(die_plate)
        self._s_pr = np.zeros(n)
        self._plate_p = np.zeros(n_p)

    # ------------------------------------------------------------------------------ dies

    @property
    def die_temp_k(self) -> np.ndarray:
        """Die temperature of every slot (computed from the class states when carried by class)."""
        if self._lazy and not self._die_fresh:
            self._materialize_dies()
        return self._die_view

    def _materialize_dies(self) -> None:
        """T_b = p·T_b0 + b·h + b·P·R·g (see _layout_state), into _die_view."""
        z = self.z
        d = self._die_view
        np.multiply(z.take(self._ix_p), self._die0, out=d)
        d += z.take(self._ix_h) * self._s_b
        d += z.take(self._ix_g) * self._s_bpr
        self._die_fresh = True

    def _rebase_dies(self) -> None:
        """Start the class histories afresh from the present die temperatures (before the
        die coefficients change, and now and then so that aⁿ never becomes subnormal)."""
        if not self._lazy:
            return
        self._die0 = self.die_temp_k.copy()
        k = self._n_cls
        z = self.z
        i = self._n_head + k
        z[i : i + k] = 0.0  # h
        z[i + k : i + 2 * k] = 1.0  # p
        z[i + 2 * k : i + 3 * k] = 0.0  # g
        self._rebase_in = self._rebase_every

    def _layout_state(self, t_net: np.ndarray, die: np.ndarray, cls: np.ndarray, k: int) -> None:
        """Lay out the linear thermal state vector z.

        Per die only the exact step T_b' = a·T_b + b·T_plate' + b·P·R is needed (a =
        e^(−dt/RC), b = 1 − a). Dies with the same plate and the same a form a class; for a
        class the plate sees only Y = Σ w·T_b (w = C/dt·b, see refresh_coeffs), and every
        die in it is T_b = p·T_b0 + b·h + b·P·R·g with p = aⁿ, h = Σ aⁿ⁻¹⁻ᵐ T_plate,m and
        g = Σ aᵐ (n steps since the snapshot T_b0). Y, h, p and g all step linearly, so with
        up to LAZY_MAX_CLASSES classes z = [nodes, E, Y, h, p, g, sun, albedo, 1] and a step
        is one product with A whatever the number of boards; the dies are computed only when
        read. With more classes z = [nodes, E, dies, sun, albedo, 1] and the dies step as a
        vector. E accumulates the heat the nodes lost by their parasitic paths, J (see
        refresh_coeffs); it is carried over.
        """
        n_net, n_p = self._n_net, self._n_plates
        n_head = self._n_head
        n = len(die)
        lazy = k <= self.LAZY_MAX_CLASSES
        self._lazy = lazy
        n_state = n_head + (4 * k if lazy else n)
        e_par = float(self.z[n_net]) if len(self.z) > n_net else 0.0
        z = np.empty(n_state + 3)
        z[:n_net] = t_net
        z[n_net] = e_par
        if lazy:
            self._n_cls = k
            self._cls = cls
            self._die0 = die.copy()
            self._die_view = die.copy()
            self._die_fresh = True
            z[n_head : n_head + k] = np.bincount(cls, weights=self._s_w * die, minlength=k)
            z[n_head + k : n_head + 2 * k] = 0.0
            z[n_head + 2 * k : n_head + 3 * k] = 1.0
            z[n_head + 3 * k : n_state] = 0.0
            self._ix_h = n_head + k + cls
            self._ix_p = n_head + 2 * k + cls
            self._ix_g = n_head + 3 * k + cls
        else:
            z[n_head:n_state] = die
            self._die_view = z[n_head:n_state]
        z[n_state:] = (0.0, 0.0, 1.0)
        self.z = z
        n_rows = n_state if lazy else n_head  # the states A·z steps
        self._z_state = z[:n_rows]
        self._tn = z[:n_net]
        self.plate_temp_k = z[:n_p]
        n_l = self._nl
        self.return_temp_k = z[n_p : n_p + n_l]
        self._radiators.bind_temperatures(z[self._panel_sl])
        self.supply_temp_k = z[self._panel_sl.stop : n_net]
        self._iz_sun = n_state
        self._iz_albedo = n_state + 1
        self._iz_const = n_state + 2
        self._za = np.zeros((n_rows, len(z)))
        self._tn_new = np.empty(n_rows)

    # ------------------------------------------------------------------------------ coefficients

    def refresh_coeffs(
        self,
        dt_s: float,
        die_r: np.ndarray,
        die_c: np.ndarray,
        die_vec: np.ndarray,
        die_power: np.ndarray,
    ) -> None:
        """Coefficients of the linear thermal network; they change only with dt, flow,
        inventory and board resistance, so they are computed once and reused.

        The step of the plates, legs and panels is T' = M·(C/dt·T + Q) with M = (C/dt + L)⁻¹
        (implicit_network_operator). Each plate receives its boards' power minus what their
        dies store, P − Σ C_b/dt·(T_b' − T_b), and the exact die step toward the plate's new
        temperature makes T_b' − T_b = b·(T_plate' + P·R − T_b), b = 1 − e^(−dt/RC): the
        plate's part w·T_plate' (w = C_b/dt·b) joins L's diagonal, the rest, Σ w·(T_b − P·R),
        is Q, linear in the state (with an explicit plate term the plate–die difference grew
        by |1 − b·(1 + ΣC_b/C_plate)| a step, unstable for a dry plate of 15 simple slots
        above ~26 s; implicit it shrinks by a·C_plate/(C_plate + ΣC_b·b) at any step). The
        panels absorb k_sun·sun + k_albedo·albedo + k_IR; the legs get the pump heat. So
        T' = A·z with z = [T, T_b, sun, albedo, 1] and A assembled here from M once per change
        (the constant column, which carries the board and pump powers, in _refresh_qconst).
        ``die_vec`` is 1 for the dies stepped here, 0 for plug-in boards (they step their own).

        Parasitic paths: every node also loses P(T) = G·(T − T_s) + εσA·(T⁴ − T_s⁴) to the
        structure (T_s); the T⁴ term is taken on its tangent at T̄, the node temperatures of
        this refresh, so P(T) ≈ g·T − s with g = G + 4εσA·T̄³ and s = G·T_s + εσA·(3T̄⁴ + T_s⁴)
        (exact at T̄, low by 6εσA·T̄²·(T − T̄)² off it): g joins L's diagonal, s the constant
        heat. A row of A accumulates the energy lost, E' = E + dt·Σ(g·T' − s), from the same
        T' the step produces, so the ledger closes to rounding whatever T̄ is; T̄ is renewed
        when a node strays from it (see _check_parasitic).

        Coolant lost by a leak leaves the legs' heat capacity at this refresh (the legs hold
        half the inventory each); the enthalpy it carries, ΔC·T of each leg
        (``lost_coolant_enthalpy_w`` × dt at T_ref = 0 K, the reference of
        :meth:`stored_energy_j`), is booked (:meth:`take_lost_coolant_j`) and the step that
        follows runs with the new capacity.
        """
        first = self.dt_s < 0.0
        self.dt_s = dt_s
        loops = self._loops
        rad = self._radiators
        t_net = self._tn.copy()
        die = self.die_temp_k.copy()
        cp = loops.cp_j_per_kg_k
        flow = loops.flow_kg_s
        self._s_decay = board_die_decay(dt_s, die_r, die_c)
        self._s_pr = die_power * die_r * die_vec
        self._pr_max = float(self._s_pr.max()) if len(self._s_pr) else 0.0
        s_c_dt = die_c / dt_s * die_vec
        self._cp_g = hx_conductance_w_per_k(
            self._cp_ua,
            flow[self.plate_loop] / self._cp_per_loop[self.plate_loop],
            cp[self.plate_loop],
        )
        # the loop's flow splits over its open panels; an isolated panel (valve closed)
        # exchanges nothing with the coolant and keeps only its own paths (emission, hinge)
        rp_g = (
            hx_conductance_w_per_k(
                rad.ua_w_per_k,
                panel_flow_split_kg_s(flow, self._rp_loop, rad.open_f),
                cp[self._rp_loop],
            )
            * rad.open_f
        )
        self._rp_g = rp_g
        # a drained loop keeps the fluid wetting its walls (1 %), which keeps C/dt + L regular
        inv = np.maximum(loops.inventory_kg, 0.01 * np.asarray(loops.inventory_nominal_kg))
        leg_c = inv * cp * 0.5
        tn_c = np.concatenate([self._cp_c, leg_c, rad.c_j_per_k, leg_c])
        if not first:
            self._lost_coolant_j += float((self._tn_c - tn_c) @ t_net)
        self._tn_c = tn_c
        lm = coolant_network_matrix(
            self._nl, self.plate_loop, self._cp_g, self._rp_loop, rp_g, flow * cp
        )
        # the parasitic paths, on the tangent at the present temperatures
        t_s = self.structure_temp_k
        k_par = self.parasitic_emission_w_per_k4
        t3 = t_net * t_net * t_net
        g_par = self.parasitic_conductance_w_per_k + 4.0 * k_par * t3
        self.parasitic_g_w_per_k = g_par
        self.parasitic_source_w = self.parasitic_conductance_w_per_k * t_s + k_par * (
            3.0 * t3 * t_net + t_s**4
        )
        self._par_ref_k = t_net
        self.stale = False
        self._par_check_every = max(1, round(60.0 / dt_s))
        self._par_check_in = self._par_check_every
        lm[np.diag_indices_from(lm)] += g_par
        # the dies' exchange with their plate, implicit in the plate: a die's exact step
        # toward the *new* plate temperature takes w·(T_plate' + P·R − T_b) from its plate, so
        # the plate's row gains Σw on its diagonal (any step is stable, see the docstring)
        self._s_b = 1.0 - self._s_decay
        self._s_bpr = self._s_b * self._s_pr
        w = s_c_dt * self._s_b  # die weight: plate heat per K of T_plate' + P·R − T_b
        self._s_w = w
        n_p = self._n_plates
        lm[np.arange(n_p), np.arange(n_p)] += np.bincount(self.die_plate, weights=w, minlength=n_p)
        m, tn_c_dt = implicit_network_operator(self._tn_c, dt_s, lm)
        self._tn_m = m
        rad.set_step(dt_s)
        # the assembled step matrix A (see the docstring)
        key = self._cls_key
        if key is None or not np.array_equal(key[0], self._s_decay):
            pairs = np.column_stack([self.die_plate.astype(float), self._s_decay])
            uniq, cls = np.unique(pairs, axis=0, return_inverse=True)
            key = (self._s_decay.copy(), cls.ravel(), uniq)
            self._cls_key = key
        _, cls, uniq = key
        k = len(uniq)
        self._layout_state(t_net, die, cls, k)
        n_net, n = self._n_net, len(die)
        n_head = self._n_head
        a = self._za
        np.multiply(m, tn_c_dt, out=a[:n_net, :n_net])
        m_p = np.ascontiguousarray(m[:, :n_p])
        if self._lazy:
            a[:n_net, n_head : n_head + k] = m_p[:, uniq[:, 0].astype(np.intp)]  # Σ w·T_b
        else:
            a[:n_net, n_head : n_head + n] = m_p[:, self.die_plate] * w
        if self._env:
            m_k = m[:, self._panel_sl]
            a[:n_net, self._iz_sun] = m_k @ rad.k_sun
            a[:n_net, self._iz_albedo] = m_k @ rad.k_albedo
        # the parasitic-energy row: E' = E + dt·g·(A_nodes·z) − dt·Σs (the constant part in
        # _refresh_qconst); the plug-in boards' plate heat reaches it through _tn_m_plates
        self._par_g_dt = g_par * dt_s
        a[n_net] = self._par_g_dt @ a[:n_net]
        a[n_net, n_net] = 1.0
        # the plug-in boards' plate heat enters every row that sees the new plates
        tmp = np.zeros((len(self._z_state), n_p))
        tmp[:n_net] = m_p
        tmp[n_net] = self._par_g_dt @ m_p
        if self._lazy:
            # the class states step toward the new plate temperature T_plate' = A_plate·z
            # (+ the plug-in heat): their rows are compositions of the plates' rows of A
            # (the constant column follows in _refresh_qconst)
            cls_plate = uniq[:, 0].astype(np.intp)
            self._cls_plate = cls_plate
            cls_a = uniq[:, 1]
            r = np.arange(k)
            iy, ih, ip, ig = n_head, n_head + k, n_head + 2 * k, n_head + 3 * k
            wb = np.bincount(cls, weights=w * self._s_b, minlength=k)
            self._cls_wb = wb
            plate_rows = a[cls_plate].copy()
            a[iy : iy + k] = wb[:, None] * plate_rows  # Y' = a·Y + Σ w·b·T_plate' + Σ w·b·P·R
            a[iy + r, iy + r] += cls_a
            a[ih : ih + k] = plate_rows  # h' = a·h + T_plate'
            a[ih + r, ih + r] += cls_a
            a[ip + r, ip + r] = cls_a  # p' = a·p
            a[ig + r, ig + r] = cls_a  # g' = a·g + 1
            tmp[iy : iy + k] = wb[:, None] * m_p[cls_plate]
            tmp[ih : ih + k] = m_p[cls_plate]
            a_min = float(cls_a.min())
            x = -math.log(a_min) if a_min > 0.0 else math.inf
            self._rebase_every = max(1, min(4096, int(300.0 / x))) if x > 0.0 else 4096
            self._rebase_in = self._rebase_every
        self._tn_m_plates = tmp
        self.qconst_dirty = True

    def set_die_power(self, die_power: np.ndarray, die_r: np.ndarray, die_vec: np.ndarray) -> None:
        """Served power of every die changed (plug-in boards, die_vec 0, hand their plate the
        heat their own step returns, see :meth:`step`)."""
        if self._lazy:
            self._rebase_dies()  # the dies' P·R is about to change
        self._s_pr = die_power * die_r * die_vec
        self._pr_max = float(self._s_pr.max()) if len(self._s_pr) else 0.0
        self._s_bpr = self._s_b * self._s_pr
        self._plate_p = np.bincount(
            self.die_plate, weights=die_power * die_vec, minlength=self._n_plates
        )
        self.qconst_dirty = True

    def _refresh_qconst(self) -> None:
        """The constant column of A: M·(board power − Σ w·P·R per plate, pump heat, IR)."""
        self.qconst_dirty = False
        n_p = self._n_plates
        q = np.zeros(len(self._tn))
        q[:n_p] = self._plate_p - np.bincount(
            self.die_plate, weights=self._s_w * self._s_pr, minlength=n_p
        )
        q[n_p : n_p + self._nl] = self._loops.pump_heat_w
        if self._env:
            q[self._panel_sl] += self._radiators.k_ir
        q += self.parasitic_source_w
        col = self._za[:, self._iz_const]
        n_net = self._n_net
        col[:n_net] = self._tn_m @ q
        col[n_net] = self._par_g_dt @ col[:n_net] - self.dt_s * float(self.parasitic_source_w.sum())
        if self._lazy:
            k = self._n_cls
            n_head = self._n_head
            plate_const = col[self._cls_plate]  # the constant part of T_plate'
            col[n_head : n_head + k] = (
                np.bincount(self._cls, weights=self._s_w * self._s_bpr, minlength=k)
                + self._cls_wb * plate_const
            )
            col[n_head + k : n_head + 2 * k] = plate_const
            col[n_head + 3 * k : n_head + 4 * k] = 1.0

    # ------------------------------------------------------------------------------ step

    def step(
        self,
        illumination: float,
        cos_beta_cos_u: float,
        plate_heat_w: np.ndarray | None,
    ) -> float:
        """One step of ``dt_s`` (the step of the last refresh_coeffs): the network with the
        dies, then the panels' emission. ``plate_heat_w`` is the heat the plug-in boards
        delivered into each plate over the step (None: none). Returns the environment power
        the panels absorbed, W (-1 without environment)."""
        if self.qconst_dirty:
            self._refresh_qconst()
        z = self.z
        absorbed_w = -1.0
        if self._env:
            # absorbed sunlight, albedo and Earth IR (panel normals along ± orbit normal: the
            # Sun lights one face at |sin β|, edge-on at β = 0; albedo and IR reach every
            # face); both fluxes are linear in their driver (see Radiators.environment)
            rad = self._radiators
            absorbed_w = rad.environment(illumination, cos_beta_cos_u)
            z[self._iz_sun] = rad.sun_flux_w_m2
            z[self._iz_albedo] = rad.albedo_flux_w_m2
        # plates, coolant legs and panels: one backward-Euler step of the linear network,
        # with the dies' exchange with their plates folded in (A·z, see refresh_coeffs and
        # _layout_state) ...
        # (the ndarray methods and [...] assignments below skip numpy's function dispatch
        # and slice objects; same operations)
        t_new = self._tn_new
        self._za.dot(z, t_new)
        if plate_heat_w is not None:
            t_new += self._tn_m_plates @ plate_heat_w
        lazy = self._lazy
        if not lazy:
            # ... the dies: exact exponential step of each toward the new plate + P·R; when
            # carried by class, A·z has stepped their class states
            die = self._die_view
            t_inf = t_new.take(self.die_plate)
            t_inf += self._s_pr
            die -= t_inf
            die *= self._s_decay
            die += t_inf
        self._z_state[...] = t_new
        if lazy:
            self._die_fresh = False
            rebase_in = self._rebase_in - 1
            self._rebase_in = rebase_in
            if rebase_in <= 0:
                self._rebase_dies()
        # ... then the panels' εσT⁴ emission (operator splitting)
        self._radiators.emit()
        check_in = self._par_check_in - 1
        self._par_check_in = check_in
        if check_in <= 0:
            self._check_parasitic()
        return absorbed_w

    def _check_parasitic(self) -> None:
        """Every minute of mission time: is a radiating node more than 10 K from the
        temperature its parasitic radiation is linearised at (the tangent is then low by
        6εσA·T̄²·ΔT², < 1.5 W for a plate)? Every hour: more than 0.01 K? Either sets
        ``stale`` and the spacecraft refreshes the coefficients before the next step; the
        hourly test makes a settled node sit on the exact equilibrium of its path."""
        self._par_check_in = self._par_check_every
        self._par_checks += 1
        tol_k = 10.0
        if self._par_checks >= 60:
            self._par_checks = 0
            tol_k = 0.01
        ix = self._par_ix
        if len(ix) and float(np.abs(self._tn[ix] - self._par_ref_k[ix]).max()) > tol_k:
            self.stale = True

    def take_parasitic_j(self) -> float:
        """Heat the nodes lost by their parasitic paths since the last call, J."""
        if not len(self.z):
            return 0.0
        e = float(self.z[self._n_net])
        self.z[self._n_net] = 0.0
        return e

    def take_lost_coolant_j(self) -> float:
        """Enthalpy of the coolant that leaked out since the last call, J (T_ref = 0 K)."""
        e = self._lost_coolant_j
        self._lost_coolant_j = 0.0
        return e

    def dies_above(self, floor_k: float) -> bool:
        """True when a die is above ``floor_k`` after the step. Each new die temperature lies
        between its old one and T_plate' + P·R (the plate after the step), so max(old bound,
        max plate' + max P·R) bounds the new maximum; the dies are computed and scanned only
        when that bound reaches the floor."""
        bound = max(self.plate_temp_k.tolist()) + self._pr_max
        if bound < self._die_max_bound:
            bound = self._die_max_bound
        above = False
        if bound > floor_k:
            die = self.die_temp_k
            bound = float(np.maximum.reduce(die)) if len(die) else -math.inf
            above = bound > floor_k
        self._die_max_bound = bound
        return above

    # ------------------------------------------------------------------------------ settled start

    def steady_state_k(
        self, sun_flux_w_m2: float, albedo_flux_w_m2: float, plate_heat_w: np.ndarray
    ) -> np.ndarray:
        """Node temperatures (plates, hot legs, panels, cold legs) in steady state for
        constant inputs: ``plate_heat_w`` into the plates (the whole power of their dies), the
        pumps' heat into the hot legs, the panels absorbing the given fluxes (plus Earth IR)
        and emitting εσA·T⁴ to space, every node's parasitic path to the structure exact
        (T⁴, not its tangent); Newton (``steady_state_network_k``) from the present
        temperatures, at the flows of the last :meth:`refresh_coeffs`."""
        loops, rad = self._loops, self._radiators
        cp = loops.cp_j_per_kg_k
        lm = coolant_network_matrix(
            self._nl, self.plate_loop, self._cp_g, self._rp_loop, self._rp_g, loops.flow_kg_s * cp
        )
        g = self.parasitic_conductance_w_per_k
        lm[np.diag_indices_from(lm)] += g
        n_p, n_l = self._n_plates, self._nl
        q = g * self.structure_temp_k
        q[:n_p] += plate_heat_w
        q[n_p : n_p + n_l] += loops.pump_heat_w
        k = self.parasitic_emission_w_per_k4.copy()
        sink = np.full(len(q), self.structure_temp_k)
        k[self._panel_sl] += rad.kemit_w_per_k4  # panels radiate to deep space (0 K)
        sink[self._panel_sl] = 0.0
        if self._env:
            q[self._panel_sl] += rad.k_sun * sun_flux_w_m2 + rad.k_albedo * albedo_flux_w_m2
            q[self._panel_sl] += rad.k_ir
        return steady_state_network_k(
            lm, q, k, sink_temp_k=sink, initial_temp_k=self._tn.copy(), tol_k=1e-6
        )

    def set_temperatures(self, t_net: np.ndarray, die_temp_k: np.ndarray) -> None:
        """Put the nodes (plates, hot legs, panels, cold legs) and the dies at the given
        temperatures; a :meth:`refresh_coeffs` must follow before the next step (it lays the
        state out afresh from them)."""
        self._tn[...] = t_net
        if self._lazy:
            self._die_view = np.array(die_temp_k, dtype=float)
            self._die_fresh = True
        else:
            self._die_view[...] = die_temp_k
        self._die_max_bound = math.inf
        self.stale = True

    def settle_periodic(
        self,
        drive: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        period_s: float,
        die_r: np.ndarray,
        die_c: np.ndarray,
        die_vec: np.ndarray,
        die_power: np.ndarray,
        tol_k: float,
        step_s: float,
        max_orbits: int = 8,
    ) -> list[tuple[float, int, float]]:
        """Bring the network onto its periodic orbit for constant loads and flows.

        ``drive(t_s)`` gives, at the model times ``t_s`` (one orbit from the start phase),
        the Sun's illuminated fraction and cos β·cos u (what :meth:`step` takes). From the
        steady state on the orbit-averaged inputs (:meth:`steady_state_k`; the dies at plate +
        P·R), whole orbits are stepped in passes at 120 s, 10 s (each only if more than twice
        ``step_s``) and finally ``step_s`` (each the period split into equal steps close to
        it, so every orbit ends on the start phase), a pass ending when no node or die stepped
        here changes by more than ``tol_k`` from one orbit's start to the next (at most
        ``max_orbits``). The slowest mode decays by a near-constant ratio λ an orbit (~1/8 on
        the AI1), so after two orbits without extrapolation the start state is extrapolated
        along the last change (vector Aitken: x + λ/(1 − λ)·Δx, λ = Δx·Δx₋₁/|Δx₋₁|²). The
        coarse passes get close cheaply; the last one settles the state on the periodic orbit
        of the step the run uses (the operator splitting of the panels' emission and the
        backward-Euler lag make it depend on the step: ~1 K at the start phase between 1 s and
        10 s). Only the network steps: the caller restores its own coefficients afterwards
        (``refresh_coeffs`` at its step) and drains the radiated and parasitic energies from
        its ledgers. Returns, per pass, (step s, orbits stepped, last orbit-to-orbit change
        in K)."""
        rad = self._radiators
        vec = die_vec > 0.0
        # start: steady state on the averaged inputs
        n0 = max(8, math.ceil(period_s / 120.0))
        illum, cbcu = drive(np.arange(n0) * (period_s / n0))
        sun = albedo = 0.0
        if self._env:
            for a, b in zip(illum.tolist(), cbcu.tolist(), strict=True):
                rad.environment(a, b)
                sun += rad.sun_flux_w_m2
                albedo += rad.albedo_flux_w_m2
            sun /= n0
            albedo /= n0
        plate_q = np.bincount(self.die_plate, weights=die_power * die_vec, minlength=self._n_plates)
        t_net = self.steady_state_k(sun, albedo, plate_q)
        die = self.die_temp_k.copy()
        die[vec] = (t_net[: self._n_plates][self.die_plate] + die_power * die_r)[vec]
        self.set_temperatures(t_net, die)
        report: list[tuple[float, int, float]] = []
        passes = [s for s in (120.0, 10.0) if s > 2.0 * step_s] + [step_s]
        for pass_s in passes:
            n = max(8, math.ceil(period_s / pass_s))
            dt = period_s / n
            illum, cbcu = drive(np.arange(n) * dt)
            pairs = list(zip(illum.tolist(), cbcu.tolist(), strict=True))
            self.refresh_coeffs(dt, die_r, die_c, die_vec, die_power)
            self.set_die_power(die_power, die_r, die_vec)
            x = np.concatenate([self._tn, self.die_temp_k[vec]])
            d_prev: np.ndarray | None = None
            change = math.inf
            orbits = 0
            while orbits < max_orbits:
                for a, b in pairs:
                    if self.stale:
                        self.refresh_coeffs(dt, die_r, die_c, die_vec, die_power)
                    self.step(a, b, None)
                orbits += 1
                x_new = np.concatenate([self._tn, self.die_temp_k[vec]])
                d = x_new - x
                x = x_new
                change = float(np.abs(d).max())
                if change <= tol_k:
                    break
                if d_prev is not None:
                    den = float(d_prev @ d_prev)
                    lam = float(d @ d_prev) / den if den > 0.0 else 0.0
                    if 0.0 < lam < 0.9:
                        x = x + d * (lam / (1.0 - lam))
                        die = self.die_temp_k.copy()
                        die[vec] = x[self._n_net :]
                        self.set_temperatures(x[: self._n_net], die)
                        self.refresh_coeffs(dt, die_r, die_c, die_vec, die_power)
                        d = None
                d_prev = d
            report.append((dt, orbits, change))
        self._par_checks = 0
        return report

    # ------------------------------------------------------------------------------ outputs

    def loop_heat_w(self) -> np.ndarray:
        """Heat the coolant of each loop picks up from its plates (at their present
        temperatures) and its pumps, W."""
        q = self._cp_g * (self.plate_temp_k - self.supply_temp_k[self.plate_loop])
        return np.bincount(self.plate_loop, weights=q, minlength=self._nl) + (
            self._loops.pump_heat_w
        )

    def stored_energy_j(self, die_c: np.ndarray, die_vec: np.ndarray) -> float:
        """Σ C·T of the nodes and of the dies stepped here, J."""
        return float((die_c * self.die_temp_k * die_vec).sum() + (self._tn_c * self._tn).sum())
