//! The in-memory copy of every resource, and change sets that commit to it.
//!
//! Architecture invariant: state changes only through [`Changes`]. A service operation
//! reads [`State`], validates, and records puts and deletes into a change set; the
//! service then writes the set to the store in one transaction and only after that
//! applies it to memory. A rejected request therefore changes nothing, and nothing the
//! API acknowledged can be missing after a crash.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use shoal_model::autoscaling::activity::Activity;
use shoal_model::autoscaling::group::AutoScalingGroup;
use shoal_model::autoscaling::launch_config::LaunchConfiguration;
use shoal_model::autoscaling::lifecycle::{InstanceRefresh, LifecycleAction, LifecycleHook};
use shoal_model::autoscaling::policy::ScalingPolicy;
use shoal_model::autoscaling::schedule::ScheduledAction;
use shoal_model::cloudwatch::MetricAlarm;
use shoal_model::deploy::Deployment;
use shoal_model::ec2::{
    Image, Instance, InstanceState, KeyPair, LaunchTemplate, LaunchTemplateVersion, SecurityGroup,
    Snapshot, Subnet, Vpc,
};
use shoal_model::elbv2::{
    Listener, LoadBalancer, RegisteredTarget, ResourceTags, Rule, TargetGroup,
};
use shoal_store::{Record, Store, StoreError, Writer};

/// Every resource, by id.
#[derive(Default, Clone)]
pub struct State {
    pub vpcs: BTreeMap<String, Vpc>,
    pub subnets: BTreeMap<String, Subnet>,
    pub security_groups: BTreeMap<String, SecurityGroup>,
    pub key_pairs: BTreeMap<String, KeyPair>,
    pub images: BTreeMap<String, Image>,
    /// Snapshots AMIs were made with (they outlive their image until deleted).
    pub snapshots: BTreeMap<String, Snapshot>,
    pub instances: BTreeMap<String, Instance>,
    pub launch_templates: BTreeMap<String, LaunchTemplate>,
    pub launch_template_versions: BTreeMap<String, LaunchTemplateVersion>,
    /// Auto Scaling groups by name (their instances live inside them).
    pub groups: BTreeMap<String, AutoScalingGroup>,
    /// Launch configurations by name.
    pub launch_configurations: BTreeMap<String, LaunchConfiguration>,
    /// Scaling activities by id.
    pub activities: BTreeMap<String, Activity>,
    /// Scaling policies by ARN.
    pub policies: BTreeMap<String, ScalingPolicy>,
    /// Scheduled actions by ARN.
    pub scheduled_actions: BTreeMap<String, ScheduledAction>,
    /// Lifecycle hooks by `<group>/<name>`.
    pub lifecycle_hooks: BTreeMap<String, LifecycleHook>,
    /// Lifecycle actions in progress, by instance id.
    pub lifecycle_actions: BTreeMap<String, LifecycleAction>,
    /// Instance refreshes by id.
    pub instance_refreshes: BTreeMap<String, InstanceRefresh>,
    // ELBv2, by ARN (registrations by `registration_key`, tags by resource ARN).
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub listeners: BTreeMap<String, Listener>,
    pub rules: BTreeMap<String, Rule>,
    pub target_groups: BTreeMap<String, TargetGroup>,
    pub registered_targets: BTreeMap<String, RegisteredTarget>,
    pub elb_tags: BTreeMap<String, ResourceTags>,
    /// CloudWatch metric alarms, by name.
    pub alarms: BTreeMap<String, MetricAlarm>,
    /// Blue/green deployments, by id.
    pub deployments: BTreeMap<String, Deployment>,
}

/// A stored type and the map of [`State`] that holds it.
pub trait Table: Record + Clone + Send + 'static {
    fn map(state: &State) -> &BTreeMap<String, Self>;
    fn map_mut(state: &mut State) -> &mut BTreeMap<String, Self>;
}

macro_rules! table {
    ($ty:ty, $field:ident) => {
        impl Table for $ty {
            fn map(state: &State) -> &BTreeMap<String, Self> {
                &state.$field
            }
            fn map_mut(state: &mut State) -> &mut BTreeMap<String, Self> {
                &mut state.$field
            }
        }
    };
}

table!(Vpc, vpcs);
table!(Subnet, subnets);
table!(SecurityGroup, security_groups);
table!(KeyPair, key_pairs);
table!(Image, images);
table!(Snapshot, snapshots);
table!(Instance, instances);
table!(LaunchTemplate, launch_templates);
table!(LaunchTemplateVersion, launch_template_versions);
table!(AutoScalingGroup, groups);
table!(LaunchConfiguration, launch_configurations);
table!(Activity, activities);
table!(ScalingPolicy, policies);
table!(ScheduledAction, scheduled_actions);
table!(LifecycleHook, lifecycle_hooks);
table!(LifecycleAction, lifecycle_actions);
table!(InstanceRefresh, instance_refreshes);
table!(LoadBalancer, load_balancers);
table!(Listener, listeners);
table!(Rule, rules);
table!(TargetGroup, target_groups);
table!(RegisteredTarget, registered_targets);
table!(ResourceTags, elb_tags);
table!(MetricAlarm, alarms);
table!(Deployment, deployments);

impl State {
    /// The key pair named `name` (an instance's `KeyName`).
    pub fn key_pair_named(&self, name: &str) -> Option<&KeyPair> {
        self.key_pairs.values().find(|k| k.name == name)
    }

    /// Loads every table from the store (daemon start).
    pub fn load(store: &Store) -> Result<State, StoreError> {
        let mut state = State::default();
        fn fill<T: Table>(state: &mut State, store: &Store) -> Result<(), StoreError> {
            let map = T::map_mut(state);
            for record in store.load_all::<T>()? {
                map.insert(record.id().to_string(), record);
            }
            Ok(())
        }
        fill::<Vpc>(&mut state, store)?;
        fill::<Subnet>(&mut state, store)?;
        fill::<SecurityGroup>(&mut state, store)?;
        fill::<KeyPair>(&mut state, store)?;
        fill::<Image>(&mut state, store)?;
        fill::<Snapshot>(&mut state, store)?;
        fill::<Instance>(&mut state, store)?;
        fill::<LaunchTemplate>(&mut state, store)?;
        fill::<LaunchTemplateVersion>(&mut state, store)?;
        fill::<AutoScalingGroup>(&mut state, store)?;
        fill::<LaunchConfiguration>(&mut state, store)?;
        fill::<Activity>(&mut state, store)?;
        fill::<ScalingPolicy>(&mut state, store)?;
        fill::<ScheduledAction>(&mut state, store)?;
        fill::<LifecycleHook>(&mut state, store)?;
        fill::<LifecycleAction>(&mut state, store)?;
        fill::<InstanceRefresh>(&mut state, store)?;
        fill::<LoadBalancer>(&mut state, store)?;
        fill::<Listener>(&mut state, store)?;
        fill::<Rule>(&mut state, store)?;
        fill::<TargetGroup>(&mut state, store)?;
        fill::<RegisteredTarget>(&mut state, store)?;
        fill::<ResourceTags>(&mut state, store)?;
        fill::<MetricAlarm>(&mut state, store)?;
        fill::<Deployment>(&mut state, store)?;
        Ok(state)
    }

    pub fn get<T: Table>(&self, id: &str) -> Option<&T> {
        T::map(self).get(id)
    }
}

trait Change: Send {
    fn persist(&self, writer: &mut Writer<'_>) -> Result<(), StoreError>;
    fn apply(self: Box<Self>, state: &mut State);
    /// The kind of record it writes (`Record::KIND`); none for a store-only write.
    fn kind(&self) -> Option<&'static str>;
}

struct Put<T>(T);
struct Delete<T>(String, std::marker::PhantomData<T>);

impl<T: Table> Change for Put<T> {
    fn persist(&self, writer: &mut Writer<'_>) -> Result<(), StoreError> {
        writer.put(&self.0)
    }
    fn apply(self: Box<Self>, state: &mut State) {
        T::map_mut(state).insert(self.0.id().to_string(), self.0);
    }
    fn kind(&self) -> Option<&'static str> {
        Some(T::KIND)
    }
}

impl<T: Table> Change for Delete<T> {
    fn persist(&self, writer: &mut Writer<'_>) -> Result<(), StoreError> {
        writer.delete::<T>(&self.0)
    }
    fn apply(self: Box<Self>, state: &mut State) {
        T::map_mut(state).remove(&self.0);
    }
    fn kind(&self) -> Option<&'static str> {
        Some(T::KIND)
    }
}

struct StoreOnly<F>(F);

impl<F: Fn(&mut Writer<'_>) -> Result<(), StoreError> + Send> Change for StoreOnly<F> {
    fn persist(&self, writer: &mut Writer<'_>) -> Result<(), StoreError> {
        (self.0)(writer)
    }
    fn apply(self: Box<Self>, _state: &mut State) {}
    fn kind(&self) -> Option<&'static str> {
        None
    }
}

/// The addresses a change set sees in use: those `State` holds plus those the set has
/// handed out, so several launches in one commit never get the same one. Built on first
/// use and kept for the set, so a commit of many launches scans the state once.
#[derive(Default)]
pub struct AddressBook {
    /// Loopback addresses of every instance and load balancer; terminated instances
    /// keep theirs while visible, so a stale health check never reaches a newcomer.
    pub loopback: Option<BTreeSet<Ipv4Addr>>,
    /// Private addresses of the live instances and load balancer interfaces of each
    /// subnet, by subnet id.
    pub private: BTreeMap<String, BTreeSet<Ipv4Addr>>,
}

impl AddressBook {
    /// The loopback addresses in use, built if need be.
    pub fn loopback(&mut self, state: &State) -> &mut BTreeSet<Ipv4Addr> {
        self.loopback.get_or_insert_with(|| {
            let lbs = state.load_balancers.values().map(|l| l.loopback_ip);
            state.instances.values().map(|i| i.loopback_ip).chain(lbs).collect()
        })
    }

    /// The loopback and the subnet's private addresses in use, built if need be.
    pub fn in_use(
        &mut self,
        state: &State,
        subnet_id: &str,
    ) -> (&mut BTreeSet<Ipv4Addr>, &mut BTreeSet<Ipv4Addr>) {
        self.loopback(state);
        let loopback = self.loopback.as_mut().expect("built above");
        let private = self.private.entry(subnet_id.to_string()).or_insert_with(|| {
            state
                .instances
                .values()
                .filter(|i| i.subnet_id == subnet_id && i.state != InstanceState::Terminated)
                .map(|i| i.private_ip)
                .chain(
                    state
                        .load_balancers
                        .values()
                        .flat_map(|l| &l.interfaces)
                        .filter(|n| n.subnet_id == subnet_id)
                        .map(|n| n.private_ip),
                )
                .collect()
        });
        (loopback, private)
    }
}

/// The puts and deletes one operation makes, in order.
#[derive(Default)]
pub struct Changes {
    items: Vec<Box<dyn Change>>,
    pub addresses: AddressBook,
    /// Instances launched in this set, counted against the quotas.
    pub launched: super::quotas::Launched,
}

impl Changes {
    pub fn put<T: Table>(&mut self, record: T) {
        self.items.push(Box::new(Put(record)));
    }

    pub fn delete<T: Table>(&mut self, id: &str) {
        self.items.push(Box::new(Delete::<T>(id.to_string(), std::marker::PhantomData)));
    }

    /// A write with no in-memory copy (an append to a log such as alarm history),
    /// committed in the same transaction as the rest of the set.
    pub fn store_only(
        &mut self,
        write: impl Fn(&mut Writer<'_>) -> Result<(), StoreError> + Send + 'static,
    ) {
        self.items.push(Box::new(StoreOnly(write)));
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether the set writes a record of one of `kinds`.
    pub fn touches(&self, kinds: &[&str]) -> bool {
        self.items.iter().any(|i| i.kind().is_some_and(|k| kinds.contains(&k)))
    }

    /// Writes the set durably, then applies it to memory.
    pub(crate) fn commit(self, store: &mut Store, state: &mut State) -> Result<(), StoreError> {
        if self.items.is_empty() {
            return Ok(());
        }
        store.write(|w| {
            for item in &self.items {
                item.persist(w)?;
            }
            Ok::<_, StoreError>(())
        })?;
        for item in self.items {
            item.apply(state);
        }
        Ok(())
    }
}
